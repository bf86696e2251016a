// A gate threads wait at until some thread opens it, once and for all. Unlike std::latch it
// may be opened more than once, by whichever of several threads gets there first.
#pragma once

#include <atomic>

namespace rk::util {

class Gate {
  public:
    void open() {
        if (!open_.exchange(true)) open_.notify_all();
    }
    void wait() const { open_.wait(false); }

  private:
    std::atomic<bool> open_{false};
};

}  // namespace rk::util
