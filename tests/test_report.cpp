// Tests of examples/report/: the SVG writer, and figures drawn with it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "examples/report/figures.hpp"
#include "examples/report/intervention_figures.hpp"
#include "examples/report/svg.hpp"

using namespace sg;
using namespace sg::figures;

namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// "" when `xml` is well formed as far as figures need: every element closed in order, and every
// '&' one of the entities escape() writes. Otherwise what is wrong, and where.
std::string malformation(const std::string& xml) {
  std::vector<std::string> open;
  for (std::size_t at = 0; at < xml.size(); ++at) {
    if (xml[at] == '&') {
      bool known = false;
      for (const std::string entity : {"&amp;", "&lt;", "&gt;", "&quot;"})
        known |= xml.compare(at, entity.size(), entity) == 0;
      if (!known) return "a bare & at " + std::to_string(at);
    }
    if (xml[at] == '>') return "a bare > at " + std::to_string(at);
    if (xml[at] != '<') continue;
    const std::size_t end = xml.find('>', at);
    if (end == std::string::npos) return "an unclosed tag at " + std::to_string(at);
    const std::string tag = xml.substr(at + 1, end - at - 1);
    if (tag.find('<') != std::string::npos) return "a bare < at " + std::to_string(at);
    const std::string name = tag.substr(tag[0] == '/', tag.find_first_of(" />", 1) - (tag[0] == '/'));
    if (tag[0] == '/') {
      if (open.empty() || open.back() != name)
        return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(name);
    }
    at = end;
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

}  // namespace

TEST_CASE("SVG writer: a well-formed document, escaped text, styles and tooltips as attributes") {
  Svg svg(200, 100);
  svg.title("a <title> & more");
  svg.heading("Tom & \"Jerry\" <3");
  svg.text(10, 20.26, "x > y", {.fill = "#666", .anchor = "end", .font_size = 12, .bold = true});
  svg.rect(1, 2, 3, 4, {.fill = "none", .stroke = "#999", .tooltip = "phase <1>"});
  svg.line(0, 0, 10, 10, {.stroke = "red", .dash = "4,3"});
  svg.circle(5, 5, 2.5, {.fill = css_rgb(1, 0.5, -1), .stroke = "#0003"});
  svg.polyline({{0, 0}, {1, 2}, {3, 4}}, {.stroke = "blue", .stroke_width = 1.5});
  const Plot plot{.left = 20, .top = 10, .width = 100, .height = 50, .x0 = 0, .x1 = 10, .y0 = 0, .y1 = 1};
  svg.frame(plot);
  svg.y_ticks(plot, 2);
  svg.x_tick(plot, 5, "5");
  svg.y_title(plot, "MSE");
  svg.legend(plot, 1, "after", "#d62728");
  const std::string doc = svg.done();

  CHECK(doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"100\" "
                        "viewBox=\"0 0 200 100\" font-family=\"sans-serif\" font-size=\"11\">\n"
                        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"));
  CHECK(doc.ends_with("</svg>\n"));
  CHECK(malformation(doc) == "");
  CHECK(count(doc, "<title>a &lt;title&gt; &amp; more</title>") == 1);
  CHECK(count(doc, ">Tom &amp; &quot;Jerry&quot; &lt;3</text>") == 1);
  CHECK(count(doc, "<text x=\"10.0\" y=\"20.3\" fill=\"#666\" text-anchor=\"end\" font-size=\"12\" "
                   "font-weight=\"bold\">x &gt; y</text>") == 1);
  CHECK(count(doc, "<rect x=\"1.0\" y=\"2.0\" width=\"3.0\" height=\"4.0\" fill=\"none\" stroke=\"#999\">"
                   "<title>phase &lt;1&gt;</title></rect>") == 1);
  CHECK(count(doc, "stroke=\"red\" stroke-dasharray=\"4,3\"/>") == 1);
  CHECK(count(doc, "r=\"2.5\" fill=\"rgb(255,128,0)\"") == 1);  // channels clamped to [0, 1]
  CHECK(count(doc, "<polyline fill=\"none\" stroke=\"blue\" stroke-width=\"1.5\" "
                   "points=\"0.0,0.0 1.0,2.0 3.0,4.0\"/>") == 1);
  // The plot's axes: y upwards, rules at 0, 0.5 and 1 labelled on the left, x 5 in the middle.
  CHECK(count(doc, "<line x1=\"20.0\" y1=\"60.0\" x2=\"120.0\" y2=\"60.0\" stroke=\"#eee\"/>") == 1);
  CHECK(count(doc, "<text x=\"16.0\" y=\"39.0\" text-anchor=\"end\">0.5</text>") == 1);
  CHECK(count(doc, "<text x=\"70.0\" y=\"75.0\" text-anchor=\"middle\">5</text>") == 1);
  CHECK(count(doc, "transform=\"rotate(-90 14 35.0)\"") == 1);
  CHECK(count(doc, "<rect x=\"130.0\" y=\"26.0\" width=\"10.0\" height=\"10.0\" fill=\"#d62728\"/>") == 1);
}

TEST_CASE("figures drawn with the writer: a patch grid, a line chart with a gap, an LLC spectrum") {
  // Every slice row reconstructed as itself: one outer and one inner square per cell.
  const int cells = kSliceHues * kSliceSats * kSliceVals;
  Matrix<float> rgb(cells + 2, 3);
  for (int i = 0; i < rgb.rows(); ++i) rgb.row(i) << float(i % 7) / 6, float(i % 5) / 4, float(i % 3) / 2;
  const std::string patches = patches_svg(rgb, rgb, 2, "patches <before>");
  CHECK(malformation(patches) == "");
  CHECK(count(patches, "<rect") == 1 + 2 * cells);
  CHECK(count(patches, ">s = ") == kSliceSats);
  CHECK(count(patches, "patches &lt;before&gt;") == 1);

  // A log chart cannot draw 0: the series is two lines, and its legend entry one.
  const std::string chart =
      line_chart_svg({{"loss & more", {0, 1, 2, 3, 4}, {1, 10, 0, 100, 1000}}}, true, "losses", {{2, "phase <b>", 1}});
  CHECK(malformation(chart) == "");
  CHECK(count(chart, "<polyline") == 2);
  CHECK(count(chart, ">loss &amp; more</text>") == 1);
  CHECK(count(chart, "<title>phase &lt;b&gt;: step 2</title>") == 1);
  CHECK(count(chart, ">1e0</text>") == 1);
  CHECK(count(chart, ">1e3</text>") == 1);

  std::vector<llc::Estimate> points(3);
  for (int i = 0; i < 3; ++i) points[i].nbeta = 100.0 * (i + 1), points[i].llc_mean = i - 1.0, points[i].llc_std = 0.5;
  const std::string spectrum = llc_spectrum_svg(points, "spectrum");
  CHECK(malformation(spectrum) == "");
  CHECK(count(spectrum, "<circle") == 3);
  CHECK(count(spectrum, "stroke=\"#888\"") == 1);  // the zero line, as the LLC goes below 0
  CHECK(count(spectrum, ">LLC</text>") == 1);
}
