// docs/api.md lists every route in a machine-readable table ("| GET | /v1/txs/{tx_id} |" lines
// between the route-table markers); this test checks that list equals the router's route table
// exactly, in both directions, so the doc cannot drift from the code.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "net/router.h"

namespace consent {
namespace {

std::set<std::string> DocRoutes() {
  std::ifstream in(std::string(CONSENT_SOURCE_DIR) + "/docs/api.md");
  EXPECT_TRUE(in.good()) << "docs/api.md not found";
  std::set<std::string> out;
  std::string line;
  bool inside = false;
  std::regex row(R"(^\|\s*(GET|POST|PUT|DELETE|PATCH)\s*\|\s*`?(/[^\s|`]*)`?\s*\|)");
  while (std::getline(in, line)) {
    if (line.find("<!-- route-table:begin -->") != std::string::npos) inside = true;
    if (line.find("<!-- route-table:end -->") != std::string::npos) inside = false;
    std::smatch m;
    if (inside && std::regex_search(line, m, row)) {
      EXPECT_TRUE(out.insert(m[1].str() + " " + m[2].str()).second) << "listed twice: " << line;
    }
  }
  return out;
}

TEST(ApiDocTest, RouteTableInTheDocEqualsTheRouter) {
  std::set<std::string> code;
  for (const RouteInfo& r : RouteTable())
    code.insert(std::string(r.method) + " " + std::string(r.path));
  std::set<std::string> doc = DocRoutes();
  for (const auto& r : code) EXPECT_TRUE(doc.count(r)) << "missing from docs/api.md: " << r;
  for (const auto& r : doc) EXPECT_TRUE(code.count(r)) << "in docs/api.md, not served: " << r;
  EXPECT_EQ(code.size(), RouteTable().size());
}

}  // namespace
}  // namespace consent
