// inotify instances and watches are per-user resources, shared with everything else that user
// runs: fs.inotify.max_user_instances (128 by default) and fs.inotify.max_user_watches, and the
// user.max_inotify_* limits of each user namespace above us. memfd-warden takes an instance only
// where something must be watched (the audit log's file, the ledger's memfds when live memfds are
// counted), and its errors name the limit that was met, so that an operator knows what to raise.
#pragma once

#include <string>

#include "policy/result.h"
#include "supervisor/kernel/unique_fd.h"

namespace warden {

// A non-blocking, close-on-exec inotify instance, or an error whose context is `what` followed
// by the limit to raise when the limit is what failed (EMFILE).
Result<UniqueFd> open_inotify(const std::string& what);

// The error of an inotify_add_watch that just failed (errno), naming the limit to raise when
// the limit is what failed (ENOSPC).
Error inotify_watch_error(const std::string& what);

}  // namespace warden
