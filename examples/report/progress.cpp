#include "examples/report/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sg::figures {

std::string clock_text(double seconds) {
  char buf[32];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 3600) std::snprintf(buf, sizeof buf, "%d:%04.1f", int(seconds / 60), std::fmod(seconds, 60.0));
  else std::snprintf(buf, sizeof buf, "%d:%02d:%02d", int(seconds / 3600), int(seconds / 60) % 60, int(seconds) % 60);
  return buf;
}

Progress::Progress(std::string what, long total, std::string unit, bool quiet, long first)
    : what_(std::move(what)), unit_(std::move(unit)), total_(std::max(1L, total)), first_(first),
      shown_(!quiet && isatty(fileno(stderr))), start_(Clock::now()), last_(start_) {}

void Progress::update(long done, const std::string& detail) {
  if (!shown_) return;
  const Clock::time_point now = Clock::now();
  if (drawn_ && done < total_ && now - last_ < std::chrono::milliseconds(100)) return;  // see due()
  last_ = now;
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? double(done - first_) / elapsed : 0;
  const double fraction = std::clamp(double(done) / double(total_), 0.0, 1.0);
  constexpr int kBar = 20;
  const int filled = int(fraction * kBar);
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s [%s%s] %3d%%  %ld/%ld  %.*f %s/s  %s elapsed  ETA %s", what_.c_str(),
                std::string(std::size_t(filled), '#').c_str(), std::string(std::size_t(kBar - filled), '.').c_str(),
                int(fraction * 100), done, total_, rate < 10 ? 2 : 0, rate, unit_.c_str(), clock_text(elapsed).c_str(),
                rate > 0 ? clock_text(double(total_ - done) / rate).c_str() : "?");
  std::string line = buf;
  if (!detail.empty()) line += "  " + detail;
  winsize w{};
  const std::size_t width = ioctl(fileno(stderr), TIOCGWINSZ, &w) == 0 && w.ws_col > 10 ? w.ws_col - 1 : 119;
  if (line.size() > width) line.resize(width);
  std::fprintf(stderr, "\r%s\x1b[K", line.c_str());  // the rest of the line erased
  std::fflush(stderr);
}

void Progress::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace sg::figures
