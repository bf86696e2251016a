"""The README's tour works as written: each line of its first sh block under "A tour" is
run in order in a shell, in a fresh directory that has the project's docs, a git
repository, and ../shared/datasets beside it, as in a clone."""

import os
import re
import shutil
import subprocess

from rkcli import REPO_ROOT, RkTestCase, datasets_dir


def tour_lines():
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## A tour", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


class ReadmeTour(RkTestCase):
    def test_tour(self):
        if not os.path.isdir(os.path.join(datasets_dir(), "cranfield")):
            self.skipTest("the shared datasets are not there")
        root = self.path("clone-parent")
        work = os.path.join(root, "rk")
        os.makedirs(work)
        os.symlink(os.path.dirname(datasets_dir()), os.path.join(root, "shared"))
        shutil.copytree(os.path.join(REPO_ROOT, "docs"), os.path.join(work, "docs"))
        shutil.copy(os.path.join(REPO_ROOT, "README.md"), work)
        env = dict(self.env)
        env["PATH"] = os.path.dirname(self.RK) + os.pathsep + env.get("PATH", "")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run(git + ["init", "-q"], cwd=work, check=True, env=env)
        subprocess.run(git + ["add", "."], cwd=work, check=True, env=env)
        lines = tour_lines()
        self.assertGreater(len(lines), 5)
        for line in lines:
            with self.subTest(line=line):
                p = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=work, env=env,
                                   capture_output=True, timeout=300)
                self.assertEqual(p.returncode, 0,
                                 f"{line}\n{p.stdout.decode()[:2000]}\n{p.stderr.decode()[:2000]}")
