// `spheregrad thomson N`: N points on the sphere minimizing the Coulomb (or a Riesz s-) energy,
// from several random starts, by Riemannian Adam and by Adam with a unitarity penalty
// (examples/thomson/thomson.hpp), against the known minimum where there is one (docs/thomson.md).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include "examples/cli/cli.hpp"
#include "examples/report/figures.hpp"
#include "examples/thomson/thomson.hpp"

namespace sg::cli {

namespace {

struct Settings {
  thomson::Options o;
  std::string method = "both", points;
  double tolerance = 1e-6;
  bool overwrite = false;
};

constexpr double kDegrees = 180 / 3.14159265358979323846;

int run(const Settings& s) {
  std::vector<thomson::Method> methods;
  if (s.method != "penalty") methods.push_back(thomson::Method::Riemannian);
  if (s.method != "riemannian") methods.push_back(thomson::Method::Penalty);
  if (!s.points.empty()) {  // before any work: a folder that is not there fails now, not after the run
    refuse_to_overwrite(s.points, s.overwrite);
    const std::filesystem::path folder = std::filesystem::absolute(s.points).parent_path();
    if (!std::filesystem::is_directory(folder))
      throw std::runtime_error("--points " + s.points + ": the folder " + folder.string() + " does not exist");
  }
  const std::optional<double> known = s.o.s == 1 ? thomson::known_minimum(s.o.n) : std::nullopt;
  std::printf("%d points on S^2, Riesz s = %g energy; %d starts of %ld steps, lr %g -> %g (seed %lu)\n", s.o.n, s.o.s,
              s.o.starts, s.o.steps, s.o.lr, s.o.lr_end, s.o.seed);
  if (known) std::printf("known minimum: %.9f%s\n", *known, s.o.n <= 6 || s.o.n == 12 ? " (proven)" : " (best known)");
  std::printf("%-16s %16s %10s %9s %13s %11s %8s %17s\n", "method", "best energy", "rel. error", "at target",
              "steps (med.)", "s (med.)", "total s", "neighbour angles");
  std::string csv = "method,point,x,y,z\n";
  for (thomson::Method m : methods) {
    thomson::Options o = s.o;
    o.method = m;
    const thomson::Result r = thomson::solve(o, known, s.tolerance);
    const thomson::Start& best = r.starts[std::size_t(r.best)];
    std::vector<double> steps, seconds;
    double total = 0;
    for (const thomson::Start& start : r.starts) {
      total += start.seconds;
      if (start.steps_to_target >= 0) steps.push_back(double(start.steps_to_target)), seconds.push_back(start.seconds_to_target);
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    const thomson::NeighbourAngles a = thomson::nearest_neighbour_angles(best.points);
    char at_target[32] = "-", error[32] = "-";
    if (known) {
      std::snprintf(at_target, sizeof at_target, "%zu/%zu", steps.size(), r.starts.size());
      std::snprintf(error, sizeof error, "%.1e", (best.energy - *known) / *known);
    }
    char to_target[2][32] = {"-", "-"};
    if (!steps.empty()) {
      std::snprintf(to_target[0], sizeof to_target[0], "%.0f", median(steps));
      std::snprintf(to_target[1], sizeof to_target[1], "%.4f", median(seconds));
    }
    std::printf("%-16s %16.9f %10s %9s %13s %11s %8.3f %8.3f-%.3f\n", thomson::method_name(m), best.energy, error,
                at_target, to_target[0], to_target[1], total, a.smallest * kDegrees, a.largest * kDegrees);
    for (long i = 0; i < best.points.rows(); ++i) {
      char line[160];
      std::snprintf(line, sizeof line, "%s,%ld,%.17g,%.17g,%.17g\n", thomson::method_name(m), i, best.points(i, 0),
                    best.points(i, 1), best.points(i, 2));
      csv += line;
    }
  }
  std::printf("steps and s: median over the starts that reached %g of the known minimum; neighbour angles\n"
              "(degrees): the smallest and largest nearest-neighbour angle of the best start\n", s.tolerance);
  if (!s.points.empty()) figures::write_file_atomically(s.points, csv);
  return 0;
}

}  // namespace

void add_thomson(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  thomson::Options& o = s->o;
  CLI::App* command = program.add_subcommand("thomson", "N points on the sphere at minimum Coulomb energy (the Thomson problem)");
  add_converted(*command, "N", [s](const std::string& v) { s->o.n = int(parse_integer("N", v.c_str(), 2, 100000)); },
                "number of points (2 to 100000)")
      ->required()
      ->type_name("N");
  add_integer(*command, "--starts", o.starts, 1, "random starts per method (default 4)", 100000);
  add_integer(*command, "--seed", o.seed, 0, "seed of the starting points (default 0)");
  add_integer(*command, "--steps", o.steps, 1, "optimizer steps per start (default 2000)", 100000000);
  add_number(*command, "--lr", o.lr, "first learning rate (default 0.05)", 0, false);
  add_number(*command, "--lr-end", o.lr_end, "last learning rate, reached geometrically (default 1e-5)", 0, false);
  add_number(*command, "--s", o.s, "the Riesz exponent (default 1, Coulomb)", 0, false);
  add_number(*command, "--penalty", o.penalty, "unitarity weight of the penalty method (default 10)", 0, false);
  add_number(*command, "--tolerance", s->tolerance, "relative distance to the known minimum that counts (default 1e-6)", 0,
             false);
  command->add_option("--method", s->method, "riemannian, penalty or both (default both)")
      ->check(CLI::IsMember({"riemannian", "penalty", "both"}));
  command->add_option("--points", s->points, "write the best start's points of each method as CSV")->type_name("FILE");
  command->add_flag("--overwrite", s->overwrite, "replace an existing --points file");
  command->footer(
      "Minimizes sum_{i<j} |x_i - x_j|^-s over N unit vectors x_i in R^3 with the engine's fused\n"
      "pairwise energy, from --starts random starts, by two methods:\n"
      "  riemannian-adam: the points stay on the sphere (Riemannian Adam: tangent gradient,\n"
      "                   renormalization, momentum projected);\n"
      "  penalty-adam:    the points are free; Adam on the energy + penalty * sum (|x_i| - 1)^2.\n"
      "Energies are of the points divided by their norms. For s = 1 and N <= 20 the known\n"
      "minimum is shown with the relative error of the best start, how many starts came within\n"
      "--tolerance of it, and how many steps and seconds that took (docs/thomson.md).\n"
      "\n"
      "example: spheregrad thomson 12");
  command->callback([s, &exit_code] {
    try {
      s->o.check();
    } catch (const std::invalid_argument& e) {  // inconsistent options: a usage error
      std::string message = e.what();
      if (message.rfind("thomson: ", 0) == 0) message.erase(0, 9);  // the command line names the command
      throw CLI::ValidationError(message);
    }
    exit_code = run(*s);
  });
}

}  // namespace sg::cli
