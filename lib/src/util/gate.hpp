// A gate threads wait at until some thread opens it, for good (opening it again does
// nothing). Unlike std::latch, a waiter can also be let go while it stays shut: wait_or a
// flag, which whoever sets it follows with wake().
#pragma once

#include <atomic>
#include <cstdint>

namespace rk::util {

class Gate {
  public:
    void open() {
        state_.fetch_or(kOpen);
        state_.notify_all();
    }
    // Until the gate opens or `stop` is true; whoever sets `stop` then calls wake().
    void wait_or(const std::atomic<bool>& stop) const {
        for (auto s = state_.load(); (s & kOpen) == 0 && !stop.load(); s = state_.load()) {
            state_.wait(s);
        }
    }
    // Lets the waiters look at their `stop` again.
    void wake() {
        state_.fetch_add(kWake);
        state_.notify_all();
    }

  private:
    static constexpr std::uint32_t kOpen = 1, kWake = 2;  // the open bit; a count of wakes above it
    std::atomic<std::uint32_t> state_{0};
};

}  // namespace rk::util
