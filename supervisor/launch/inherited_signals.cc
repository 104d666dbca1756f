#include "supervisor/launch/inherited_signals.h"

namespace warden {

bool take_over_signals(const sigset_t& handled, InheritedSignals& inherited) {
  if (::sigprocmask(SIG_BLOCK, &handled, &inherited.mask) != 0) return false;
  struct sigaction previous {};
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &default_action, &previous);
  inherited.sigchld_ignored = previous.sa_handler == SIG_IGN;
  return true;
}

void restore_inherited_signals(const InheritedSignals& inherited) {
  if (inherited.sigchld_ignored) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGCHLD, &ignore, nullptr);
  }
  ::sigprocmask(SIG_SETMASK, &inherited.mask, nullptr);
}

}  // namespace warden
