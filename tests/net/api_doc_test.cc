// docs/api.md lists every route in a machine-readable table ("| GET | /v1/txs/{tx_id} |" lines
// between the route-table markers); this test checks that list equals the router's route table
// exactly, in both directions, so the doc cannot drift from the code.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "net/router.h"

namespace consent {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" `"), e = s.find_last_not_of(" `");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// "| GET | /v1/status | ... |": the first two cells, if the first is an HTTP method and the
// second a path.
bool ParseRow(const std::string& line, std::string* method, std::string* path) {
  if (line.empty() || line[0] != '|') return false;
  size_t a = line.find('|', 1);
  if (a == std::string::npos) return false;
  size_t b = line.find('|', a + 1);
  if (b == std::string::npos) return false;
  *method = Trim(line.substr(1, a - 1));
  *path = Trim(line.substr(a + 1, b - a - 1));
  static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
  return kMethods.count(*method) && !path->empty() && (*path)[0] == '/' &&
         path->find(' ') == std::string::npos;
}

std::set<std::string> DocRoutes() {
  std::ifstream in(std::string(CONSENT_SOURCE_DIR) + "/docs/api.md");
  EXPECT_TRUE(in.good()) << "docs/api.md not found";
  std::set<std::string> out;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.find("<!-- route-table:begin -->") != std::string::npos) inside = true;
    if (line.find("<!-- route-table:end -->") != std::string::npos) inside = false;
    std::string method, path;
    if (inside && ParseRow(line, &method, &path)) {
      EXPECT_TRUE(out.insert(method + " " + path).second) << "listed twice: " << line;
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
