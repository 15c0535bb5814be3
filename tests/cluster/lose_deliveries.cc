// Fault injection for cluster.lost_deliveries (tests/cluster/cluster_scan_test.py).
//
// Preloaded (LD_PRELOAD) into `distillguard worker` processes, it loses a
// share of the event stream's deliveries on their way to the worker, as a
// NATS node that dies with messages in transit does: the worker's
// PullConsumer then sees a gap in the consumer sequence and re-creates its
// consumer while the rest of the pull request is still arriving on the old
// inbox. That is the path on which libnats 3.4's read loop used a
// subscription freed under it (nats.c #637; NatsLink::Retire), which only a
// node failure on a loaded machine reached before.
//
// DG_TEST_LOSE: the share of deliveries lost (default 0.02);
// DG_TEST_LOSE_SEED: seed of the choice (default 1); DG_TEST_LOSE_MAX: at
// most this many per process (default no limit: each loss costs the
// worker a consumer re-creation, seconds). Other processes
// (publisher, correlator) are left alone.

#include <dlfcn.h>
#include <nats/nats.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
int worker = -1;
double share = 0.02;
long budget = -1;  // losses left; < 0: no limit
unsigned short xsubi[3];

int IsWorker() {
  if (worker >= 0) return worker;
  worker = 0;
  char args[4096];
  FILE* f = fopen("/proc/self/cmdline", "r");
  size_t n = f != nullptr ? fread(args, 1, sizeof(args) - 1, f) : 0;
  if (f != nullptr) fclose(f);
  args[n] = '\0';
  for (size_t i = 0; i < n; i += strlen(args + i) + 1) {
    if (strcmp(args + i, "worker") == 0) worker = 1;
  }
  const char* s = getenv("DG_TEST_LOSE");
  if (s != nullptr) share = atof(s);
  const char* max = getenv("DG_TEST_LOSE_MAX");
  if (max != nullptr) budget = atol(max);
  const char* seed = getenv("DG_TEST_LOSE_SEED");
  const long v = (seed != nullptr ? atol(seed) : 1) ^ static_cast<long>(getpid());
  xsubi[0] = static_cast<unsigned short>(v);
  xsubi[1] = static_cast<unsigned short>(v >> 16);
  xsubi[2] = 0x330e;
  return worker;
}
}  // namespace

extern "C" natsStatus natsSubscription_NextMsg(natsMsg** msg, natsSubscription* sub, int64_t timeout) {
  static natsStatus (*next)(natsMsg**, natsSubscription*, int64_t) = nullptr;
  if (next == nullptr) next = reinterpret_cast<natsStatus (*)(natsMsg**, natsSubscription*, int64_t)>(dlsym(RTLD_NEXT, "natsSubscription_NextMsg"));
  for (;;) {
    const natsStatus s = next(msg, sub, timeout);
    if (s != NATS_OK || !IsWorker()) return s;
    const char* reply = natsMsg_GetReply(*msg);
    static const char kEvents[] = "$JS.ACK.DG_EVENTS.";
    if (budget == 0 || reply == nullptr || strncmp(reply, kEvents, sizeof(kEvents) - 1) != 0 || erand48(xsubi) >= share) {
      return s;
    }
    if (budget > 0) --budget;
    fprintf(stderr, "lose_deliveries: lost %s\n", reply);
    natsMsg_Destroy(*msg);
    *msg = nullptr;
  }
}
