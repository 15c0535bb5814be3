// serve --nats without NATS: the answer rule over CheckInputs (decide/check.h)
// and Service with a ClusterLink test double (serve/cluster_link.h) --
// decisions from the link's inputs, ingest published to it, overrides stored
// by it, readiness from it. The real link runs in tests/cluster/serve_nats_test.py.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include <algorithm>

#include "content/features.h"
#include "serve/service.h"
#include "status_util.h"

namespace dg {
namespace {

class FakeInputs final : public CheckInputs {
 public:
  std::map<std::string, AccountInputs> accounts;
  std::optional<SharedTrust> shared;
  std::optional<CampaignMatch> match;
  AccountInputs Account(const std::string& id) const override {
    const auto it = accounts.find(id);
    return it == accounts.end() ? AccountInputs{} : it->second;
  }
  std::optional<SharedTrust> Shared(const std::string&, const std::string&) const override { return shared; }
  std::optional<CampaignMatch> MatchCampaign(const std::string&, const std::string&) const override { return match; }
};

CheckRequest Req(const std::string& account, uint32_t prompt_flags = 0) {
  CheckRequest r;
  r.account_id = account;
  r.payment_fingerprint = "card";
  r.prompt_flags = prompt_flags;
  return r;
}

AccountInputs Live(Verdict v, uint32_t interactions, ReasonMask reasons = 0) {
  AccountInputs a;
  a.source = AccountInputs::Source::kLive;
  a.verdict = v;
  a.score = v == Verdict::kAllow ? 0.1 : 0.8;
  a.interactions = interactions;
  a.reasons = reasons;
  a.campaign_id = v == Verdict::kBlock ? "camp_1" : "";
  return a;
}

TEST(CheckInputs, KnownAccountsFollowTheirVerdict) {
  FakeInputs in;
  const Policy policy = Policy::Defaults();
  in.accounts["blocked"] = Live(Verdict::kBlock, 100);
  in.accounts["review"] = Live(Verdict::kReview, 100);
  in.accounts["harvest"] = Live(Verdict::kReview, 100, Bit(Reason::kCotElicitation));
  in.accounts["clean"] = Live(Verdict::kAllow, 1000);
  const CheckResult blocked = Check(Req("blocked"), in, policy);
  EXPECT_EQ(blocked.decision, Decision::kBlock);
  EXPECT_EQ(blocked.campaign_id, "camp_1");
  EXPECT_EQ(blocked.ttl_s, 3600);
  EXPECT_EQ(Check(Req("review"), in, policy).decision, Decision::kThrottle);
  EXPECT_EQ(Check(Req("review", kFlagCot), in, policy).decision, Decision::kWithholdReasoning);
  EXPECT_EQ(Check(Req("harvest"), in, policy).decision, Decision::kWithholdReasoning);
  // An established account is not judged on the infrastructure it shares.
  in.match = CampaignMatch{"camp_9", 0.9, policy.link_threshold * 2, 0};
  EXPECT_EQ(Check(Req("clean"), in, policy).decision, Decision::kAllow);
}

TEST(CheckInputs, OverridesHoldForAccountsNotSeenAndLiveOnes) {
  FakeInputs in;
  const Policy policy = Policy::Defaults();
  AccountInputs pending;
  pending.source = AccountInputs::Source::kOverride;
  pending.verdict = Verdict::kBlock;
  in.accounts["future"] = pending;
  const CheckResult r = Check(Req("future"), in, policy);
  EXPECT_EQ(r.decision, Decision::kBlock);
  EXPECT_EQ(r.reasons, Bit(Reason::kAnalystOverride));
  AccountInputs allowed = Live(Verdict::kAllow, 2);
  allowed.analyst_allow = true;
  in.accounts["allowed"] = allowed;
  in.match = CampaignMatch{"camp_9", 0.9, policy.link_threshold * 2, 0};
  EXPECT_EQ(Check(Req("allowed"), in, policy).decision, Decision::kAllow) << "an analyst's allow is not re-judged";
}

TEST(CheckInputs, NewAccountsAreMatchedAgainstIndicators) {
  FakeInputs in;
  const Policy policy = Policy::Defaults();
  EXPECT_EQ(Check(Req("new"), in, policy).decision, Decision::kAllow);
  in.match = CampaignMatch{"camp_9", 0.9, policy.link_threshold * 2, 0};
  CheckResult r = Check(Req("new"), in, policy);
  EXPECT_EQ(r.decision, Decision::kBlock);
  EXPECT_EQ(r.campaign_id, "camp_9");
  EXPECT_TRUE(r.reasons & Bit(Reason::kCampaignIndicatorMatch));
  in.match->total = policy.link_threshold / 2;
  EXPECT_EQ(Check(Req("new"), in, policy).decision, Decision::kChallenge);
  in.match.reset();
  in.shared = SharedTrust::kBlock;
  EXPECT_EQ(Check(Req("new"), in, policy).decision, Decision::kBlock);
  in.shared = SharedTrust::kReview;
  EXPECT_EQ(Check(Req("new"), in, policy).decision, Decision::kThrottle);
  AccountInputs forgotten;
  forgotten.source = AccountInputs::Source::kSummary;
  forgotten.verdict = Verdict::kReview;
  in.accounts["forgotten"] = forgotten;
  in.shared.reset();
  EXPECT_EQ(Check(Req("forgotten"), in, policy).decision, Decision::kThrottle);
}

// A ClusterLink that records what serve sends it.
class FakeLink final : public ClusterLink {
 public:
  FakeInputs view;
  bool ready = false;
  absl::Status publish_status;
  std::mutex mu;
  std::vector<Interaction> published;
  std::vector<OverrideRecord> overrides;
  const CheckInputs& inputs() const override { return view; }
  absl::Status Publish(const std::vector<const Interaction*>& events) override {
    if (!publish_status.ok()) return publish_status;
    std::lock_guard lock(mu);
    for (const Interaction* in : events) published.push_back(*in);
    return absl::OkStatus();
  }
  absl::Status Override(const OverrideRecord& record) override {
    std::lock_guard lock(mu);
    overrides.push_back(record);
    return absl::OkStatus();
  }
  std::vector<SharedIndicatorRecord> shared;  // what the cluster holds
  absl::Status Share(const std::vector<SharedIndicatorRecord>& rows) override {
    std::lock_guard lock(mu);
    for (const auto& r : rows) shared.push_back(r);
    return absl::OkStatus();
  }
  absl::Status Unshare(const std::string& kind, const std::string& value) override {
    std::lock_guard lock(mu);
    const auto it = std::find_if(shared.begin(), shared.end(), [&](const auto& r) { return r.kind == kind && r.value == value; });
    if (it == shared.end()) return absl::NotFoundError("no such indicator");
    shared.erase(it);
    return absl::OkStatus();
  }
  std::vector<SharedIndicatorRecord> SharedIndicatorList() const override {
    std::lock_guard lock(const_cast<std::mutex&>(mu));
    return shared;
  }
  bool Ready(std::string* why) const override {
    if (!ready) *why = "loading";
    return ready;
  }
  std::string Metrics() const override { return "fake_link_metric 1\n"; }
};

std::string Line(int ts, const std::string& account, const std::string& request) {
  return "{\"ts\":" + std::to_string(1775001600 + ts) + ",\"request_id\":\"" + request + "\",\"account_id\":\"" + account +
         "\",\"ip\":\"198.51.100.7\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
         "\"response\":{\"content\":\"hi\",\"output_tokens\":3}}\n";
}

class ServiceOnCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("dg_serve_cluster_test_" + std::to_string(getpid()))).string();
    std::filesystem::remove_all(dir_);
    link_ = std::make_shared<FakeLink>();
    ServiceOptions o;
    o.data_dir = dir_;
    o.cluster = link_;
    auto s = Service::Open(std::move(o));
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = std::move(*s);
  }
  void TearDown() override {
    service_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::shared_ptr<FakeLink> link_;
  std::unique_ptr<Service> service_;
};

TEST_F(ServiceOnCluster, IngestPublishesInTimeOrderWithoutApplying) {
  const std::string body = Line(30, "a", "r3") + Line(10, "a", "r1") + "{bad json\n" + Line(20, "b", "r2") + Line(10, "a", "r1");
  const IngestResult r = service_->Ingest(body, "request");
  ASSERT_TRUE(r.stored);
  EXPECT_EQ(r.accepted, 3u);
  EXPECT_EQ(r.duplicates, 1u);  // the request id repeated within the request
  EXPECT_EQ(r.rejected, 1u);
  ASSERT_EQ(link_->published.size(), 3u);
  EXPECT_EQ(link_->published[0].request_id, "r1");
  EXPECT_EQ(link_->published[1].request_id, "r2");
  EXPECT_EQ(link_->published[2].request_id, "r3");
  EXPECT_EQ(link_->published[0].messages.at(0).text, "hello") << "the text goes to the cluster's workers";
  bool found = false;
  service_->Read([&](const Service::EngineView& v) { found = v.engine.FindAccount("a") != nullptr; });
  EXPECT_FALSE(found) << "the local engine applies nothing: the cluster does";
}

TEST_F(ServiceOnCluster, AFailedPublishIsNotAcknowledged) {
  link_->publish_status = absl::UnavailableError("no quorum");
  const IngestResult r = service_->Ingest(Line(1, "a", "r1"), "request");
  EXPECT_FALSE(r.stored);
  EXPECT_EQ(r.accepted, 0u);
  EXPECT_EQ(r.store_error.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(service_->Metrics().find("distillguard_cluster_publish_failures_total 1"), std::string::npos);
}

TEST_F(ServiceOnCluster, ChecksReadTheLinkAndOverridesGoToIt) {
  link_->view.accounts["blocked"] = Live(Verdict::kBlock, 50);
  EXPECT_EQ(service_->Check(Req("blocked")).decision, Decision::kBlock);
  EXPECT_EQ(service_->Check(Req("other")).decision, Decision::kAllow);
  ASSERT_TRUE(service_->Override("x", "block", "ann", "seen elsewhere").ok());
  ASSERT_EQ(link_->overrides.size(), 1u);
  EXPECT_EQ(link_->overrides[0].account_id, "x");
  EXPECT_EQ(link_->overrides[0].action, "block");
  EXPECT_EQ(link_->overrides[0].by, "ann");
  const auto account = service_->AccountJson("x");
  ASSERT_TRUE(account.has_value()) << "the override route answers with the account's view";
  EXPECT_NE(account->find("\"action\":\"block\""), std::string::npos);
  EXPECT_EQ(service_->Override("x", "maybe", "ann", "r").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(link_->overrides.size(), 1u);
}

// Imported indicators go to the cluster (every node and the correlator
// follow it), are listed and removed from it -- not kept in this node's
// store or engine, where no other node would see them.
TEST_F(ServiceOnCluster, ImportedIndicatorsGoToTheClusterAndAreListedFromIt) {
  const auto one = service_->ImportIndicator(IndicatorKind::kIpPrefix, "203.0.113.77/24", "partner", SharedTrust::kBlock);
  ASSERT_TRUE(one.ok()) << one.status();
  const std::string bundle =
      R"({"type":"bundle","id":"bundle--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","objects":[{"type":"indicator",)"
      R"("id":"indicator--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","spec_version":"2.1","created":"2026-01-01T00:00:00Z",)"
      R"("modified":"2026-01-01T00:00:00Z","pattern":"[x-distillguard-payment:fingerprint = 'pm_evil']",)"
      R"("pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]})";
  const auto imported = service_->ImportStix(bundle, "request", SharedTrust::kReview);
  ASSERT_TRUE(imported.ok()) << imported.status();
  ASSERT_EQ(link_->shared.size(), 2u);
  EXPECT_EQ(link_->shared[0].kind, "ip_prefix");
  EXPECT_EQ(link_->shared[0].value, "203.0.113.0/24") << "canonical before it leaves the node";
  EXPECT_EQ(link_->shared[0].trust, "block");
  EXPECT_EQ(link_->shared[1].value, "pm_evil");
  EXPECT_EQ(link_->shared[1].trust, "review");
  EXPECT_EQ(imported->imported, 1u);
  bool local = false;
  service_->Read([&](const Service::EngineView& v) { local = v.engine.shared_indicators() > 0; });
  EXPECT_FALSE(local) << "the node's own engine keeps none";
  const auto list = service_->IndicatorsJson();
  ASSERT_TRUE(list.ok());
  EXPECT_NE(list->find("\"value\":\"203.0.113.0/24\""), std::string::npos) << *list;
  EXPECT_NE(list->find("\"value\":\"pm_evil\""), std::string::npos) << *list;
  ASSERT_TRUE(service_->RemoveIndicator(Service::IndicatorId("payment", "pm_evil")).ok());
  EXPECT_EQ(link_->shared.size(), 1u);
  EXPECT_EQ(service_->RemoveIndicator(Service::IndicatorId("payment", "pm_evil")).code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceOnCluster, ReadyOnlyOnceTheLinkIs) {
  std::string why;
  EXPECT_FALSE(service_->Ready(&why));
  EXPECT_EQ(why, "loading");
  link_->ready = true;
  EXPECT_TRUE(service_->Ready(&why));
  EXPECT_NE(service_->Metrics().find("fake_link_metric 1"), std::string::npos);
}

}  // namespace
}  // namespace dg
