// ClusterLink: what `serve` needs from a cluster when it runs as one of the
// cluster's decision nodes (`serve --nats`, docs/SCALE.md). serve keeps its
// HTTP stack (Beast, /v1/check, ext_authz, health, metrics, the decision log,
// access rules and their audit); with a link, Service sends these three
// things to the cluster instead of its own engine and store:
//
//   inputs()   Check's inputs (decide/check.h) from a watched, in-memory copy
//              of the cluster's verdict and override buckets: a decision
//              never waits on the network.
//   Publish    POST /v1/events: the parsed events, stored by the cluster
//              (replicated) before it returns; the cluster digests and
//              applies them (the correlator), not this process.
//   Override   an analyst's decision, stored in the replicated override
//              bucket that every decision node and the correlator watch.
//   Share      imported (STIX) indicators, stored in the replicated bucket
//              every decision node and the correlator watch (Unshare,
//              SharedIndicatorList: removal and listing from any node).
//   PutAccounts account attributes (PUT /v1/accounts), stored in a
//              replicated bucket every decision node follows
//              (FollowAccounts): access rules and the events' join read
//              the same attributes on every node.
//
// The implementation lives in cluster/ (cluster/serve_link.h): the serve
// library does not link libnats. Every method may be called from any
// thread, concurrently.
#pragma once

#include <functional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include <absl/status/status.h>

#include "decide/check.h"
#include "engine/engine.h"
#include "ingest/interaction.h"
#include "serve/store.h"

namespace dg {

class ClusterLink {
 public:
  virtual ~ClusterLink() = default;
  virtual const CheckInputs& inputs() const = 0;
  // Ok once the cluster stored every event (acknowledged by the stream);
  // Unavailable when it could not (nothing may be assumed stored then:
  // the client retries, and request-id de-duplication drops what was).
  virtual absl::Status Publish(const std::vector<const Interaction*>& events) = 0;
  // Ok once the override is stored in the cluster (and holds on this node).
  virtual absl::Status Override(const OverrideRecord& record) = 0;
  // Imported (STIX) indicators, canonical rows: ok once the cluster stored
  // them (every node and the correlator follow its bucket). A review row
  // never replaces a block one already there (as the engine's import).
  virtual absl::Status Share(const std::vector<SharedIndicatorRecord>& rows) = 0;
  // Ok once the cluster forgot it (NotFound if it was not there).
  virtual absl::Status Unshare(const std::string& kind, const std::string& value) = 0;
  // The cluster's imported indicators as this node's watched copy holds
  // them, in key order.
  virtual std::vector<SharedIndicatorRecord> SharedIndicatorList() const = 0;
  // An analyst replica (serve --nats --replica): the cluster's engine
  // followed on this node -- the correlator's newest snapshot, then the
  // digest partitions merged in sequence and applied, overrides and
  // imported indicators as the correlator applies them -- so that the
  // analyst reads (campaigns, accounts, the console) show the cluster's
  // state. It loads in the background and applies under *mu held
  // exclusively; `observer` sees each verdict change (serve's history).
  // Unimplemented by links without one.
  virtual absl::Status StartReplica(std::shared_mutex* mu, Engine::VerdictObserver observer, const Policy& policy,
                                    const EngineOptions& options) {
    (void)mu, (void)observer, (void)policy, (void)options;
    return absl::UnimplementedError("this cluster link keeps no replica");
  }
  // The replica's engine (read under *mu held shared), or null: none, or
  // not loaded yet.
  virtual const Engine* ReplicaEngine() const { return nullptr; }
  // Stops the replica's thread (it no longer touches *mu or the observer);
  // its engine stays readable. Idempotent.
  virtual void StopReplica() {}
  // Account attributes (PUT /v1/accounts): rows of (account id, the
  // account's whole merged row as AccountToJson writes it), stored one by
  // one: ok once the cluster stored every row; an error part-way leaves
  // the rows before it stored (each is the whole row: storing it again is
  // harmless). Every node follows them (FollowAccounts).
  virtual absl::Status PutAccounts(const std::vector<std::pair<std::string, std::string>>& rows) {
    (void)rows;
    return absl::UnimplementedError("this cluster link shares no account attributes");
  }
  // Calls on_row(account_id, row) for every account row the cluster holds
  // -- the id its key names (empty when the key names none), the stored
  // value, both outside input to check -- then for each one stored after
  // (by any node, this one included), on the link's thread. Returns once
  // the rows held at the start were delivered (or after the link's
  // patience; Ready() says which). Call once, before serving; StopAccounts
  // before on_row's captures go.
  virtual absl::Status FollowAccounts(std::function<void(std::string_view account_id, std::string_view row)> on_row) {
    (void)on_row;
    return absl::OkStatus();
  }
  // No on_row call runs or starts after this returns. Idempotent.
  virtual void StopAccounts() {}
  // The watched copy holds every value the cluster had at start; else *why.
  virtual bool Ready(std::string* why) const = 0;
  // Prometheus text about the link (watched accounts, updates, publishes).
  virtual std::string Metrics() const = 0;
};

}  // namespace dg
