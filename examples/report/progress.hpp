// examples/report/progress.hpp -- a progress bar on one terminal line (stderr):
//
//   ex-1.7 [##########..........]  50%  5000/10001  41230 steps/s  0:00.1 elapsed  ETA 0:00.1  Train  total 0.0042
//
// Drawn only when stderr is a terminal and not asked to be quiet, at most every 100 ms, cut to
// the terminal's width; finish() erases it, so that what the command prints next starts clean.
// Nothing about it reaches a file or a pipe.
#pragma once

#include <chrono>
#include <string>

namespace sg::figures {

class Progress {
 public:
  // `what` names the work ("ex-1.7", "sweep"); `unit` what is counted ("steps", "runs");
  // `first` how many were done before (a resumed run), left out of the rate.
  Progress(std::string what, long total, std::string unit, bool quiet, long first = 0);
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Whether update() would draw now (a terminal, and 100 ms since the last line): callers
  // build their detail only then.
  bool due() const { return shown_ && (!drawn_ || Clock::now() - last_ >= std::chrono::milliseconds(100)); }
  // `done` of the total so far; `detail` follows the ETA (a phase, current losses).
  void update(long done, const std::string& detail = "");
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  std::string what_, unit_;
  long total_, first_;
  bool shown_, drawn_ = false;
  Clock::time_point start_, last_;
};

// "m:ss.s", or "h:mm:ss" from an hour on.
std::string clock_text(double seconds);

}  // namespace sg::figures
