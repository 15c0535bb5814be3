// sim::Evaluate's campaign figures: purity (is each predicted campaign one
// true campaign?) and completeness (is each true campaign one predicted
// campaign?) -- the two sides of a split (issue #15: merged operations,
// and an operation in many pieces).
#include "sim/eval.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

namespace dg::sim {
namespace {

struct Files {
  std::filesystem::path dir, labels, accounts;
  explicit Files(const std::string& name) {
    dir = std::filesystem::temp_directory_path() / ("dg_eval_test_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    labels = dir / "labels.jsonl";
    accounts = dir / "accounts.jsonl";
  }
  ~Files() { std::filesystem::remove_all(dir); }
};

// n accounts of true campaign `truth` (or legit when empty), predicted in
// campaign `predicted` (none when empty), all blocked.
void Add(std::ofstream& labels, std::ofstream& accounts, const std::string& prefix, int n, const std::string& truth,
         const std::string& predicted) {
  for (int i = 0; i < n; ++i) {
    const std::string id = prefix + std::to_string(i);
    labels << "{\"account_id\":\"" << id << "\",\"label\":\"" << (truth.empty() ? "legit" : "attack")
           << "\",\"campaign\":\"" << truth << "\"}\n";
    accounts << "{\"account_id\":\"" << id << "\",\"verdict\":\"block\",\"interactions\":10,\"campaign_id\":"
             << (predicted.empty() ? "null" : "\"" + predicted + "\"") << "}\n";
  }
}

TEST(Evaluate, CompletenessIsTheShareOfEachTrueCampaignInItsLargestPiece) {
  Files f("completeness");
  {
    std::ofstream labels(f.labels), accounts(f.accounts);
    // Operation A in one predicted campaign with 2 of B's accounts (purity
    // 40/42 there); B's other 18 in two pieces of 12 and 6; C's 5 in no
    // campaign at all (not placed: neither side of the figure).
    Add(labels, accounts, "a", 40, "A", "camp_1");
    Add(labels, accounts, "b", 2, "B", "camp_1");
    Add(labels, accounts, "c", 12, "B", "camp_2");
    Add(labels, accounts, "d", 6, "B", "camp_3");
    Add(labels, accounts, "e", 5, "C", "");
  }
  const auto r = Evaluate(f.labels.string(), f.accounts.string());
  ASSERT_TRUE(r.ok()) << r.status();
  // Purity: (40 + 12 + 6) / 60.
  EXPECT_NEAR(r->purity, 58.0 / 60.0, 1e-12);
  // Completeness: A 40 of 40, B 12 of 20 -> (40 + 12) / 60.
  EXPECT_NEAR(r->completeness, 52.0 / 60.0, 1e-12);
  EXPECT_EQ(r->true_campaigns_placed, 2u);
  EXPECT_EQ(r->pieces, 4u);  // A: 1, B: 3
  const std::string text = FormatEval(*r);
  EXPECT_NE(text.find("campaign completeness: 0.8667 (2 true campaigns in 4 predicted pieces)"), std::string::npos) << text;
  EXPECT_NE(FormatEvalJson(*r).find("\"completeness\":0.866667,\"pieces\":4"), std::string::npos);
}

TEST(Evaluate, NoCampaignsMeansNothingSplit) {
  Files f("none");
  {
    std::ofstream labels(f.labels), accounts(f.accounts);
    Add(labels, accounts, "a", 3, "A", "");
    Add(labels, accounts, "l", 3, "", "");
  }
  const auto r = Evaluate(f.labels.string(), f.accounts.string());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->completeness, 1.0);
  EXPECT_EQ(r->pieces, 0u);
}

}  // namespace
}  // namespace dg::sim
