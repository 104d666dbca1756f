// Whether a file could be in flight in a unix socket: sent with SCM_RIGHTS and not received yet.
// Such a file belongs to no process (no fd, no mapping), yet it is alive and holds its memory.
// Used by the ledger before it releases a memfd_secret charge, which it can only find by
// scanning processes (secretmem raises no inotify events). The kernel shows no list of files in
// flight, so this answers conservatively, from the queues it does show.
#pragma once

namespace warden {

// True when some unix socket in memfd-warden's network namespace has something queued: bytes
// waiting to be read, or connections waiting to be accepted (sock_diag, UDIAG_SHOW_RQLEN). Also
// true when the question cannot be asked (no NETLINK_SOCK_DIAG): the safe answer.
bool unix_queues_hold_data();

}  // namespace warden
