// Pipe sizing for `simulate --out - | scan -`.
//
// A Linux pipe holds 64 KiB by default. When the producer writes in bursts
// bigger than that (the simulator's output buffer), producer and consumer
// take turns instead of running on two cores at once: with the default size
// the alibaba-scale stream left a core 45% idle. Either end may enlarge the
// pipe (both share it); this asks for /proc/sys/fs/pipe-max-size (1 MiB by
// default), which is what an unprivileged process may have. Costs one fcntl;
// does nothing when fd is not a pipe or the kernel says no.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

namespace dg {

inline void EnlargeIfPipe(int fd, int bytes = 1 << 20) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return;
#ifdef F_SETPIPE_SZ
  // Best effort: a refused size (EPERM past /proc/sys/fs/pipe-max-size)
  // leaves the default pipe, which is slower, never wrong.
  (void)::fcntl(fd, F_SETPIPE_SZ, bytes);
#else
  (void)bytes;
#endif
}

}  // namespace dg
