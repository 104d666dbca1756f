#include "supervisor/backends/ptrace_backend.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "supervisor/calls/call_channel.h"
#include "supervisor/calls/call_dispatch.h"
#include "supervisor/calls/memfd_ledger.h"
#include "supervisor/kernel/kernel_abi.h"
#include "supervisor/kernel/noexec_seal.h"
#include "supervisor/kernel/proc_status.h"
#include "supervisor/kernel/target_memory.h"
#include "supervisor/kernel/unique_fd.h"
#include "supervisor/launch/process_tree.h"
#include "supervisor/launch/tree_init.h"

namespace warden {
namespace {

constexpr long kTraceOptions = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
                               PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE | PTRACE_O_TRACEEXEC |
                               PTRACE_O_TRACESYSGOOD;
constexpr int kSyscallStop = SIGTRAP | 0x80;  // with PTRACE_O_TRACESYSGOOD

int ptrace_event(int status) { return status >> 16; }

bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

bool futex_wait_op(unsigned long long op) {
  int command = static_cast<int>(op) & FUTEX_CMD_MASK;
  return command == FUTEX_WAIT || command == FUTEX_WAIT_BITSET;
}

// `tid` is at the stop a freeze's PTRACE_INTERRUPT gave it. When that stop interrupted a wait
// that writes none of the caller's memory while it sleeps or as it returns (a futex wait,
// pause), which the kernel restarts when the tracee is resumed (-ERESTART* in rax, never seen by
// user space): the number of the call that restart enters. That is restart_syscall for a timed
// futex wait (-ERESTART_RESTARTBLOCK: the kernel has set futex_wait_restart to run), else the
// call itself. 0 otherwise. Other sleeping calls (read, poll, epoll_wait, nanosleep's remainder)
// write memory as they return, before their exit stop, so they are not parked. A 32-bit call
// cannot match: i386's numbers 202 and 34 are getegid32 and nice, which do not sleep.
long restart_of_memoryless_wait(pid_t tid) {
  user_regs_struct regs{};
  if (::ptrace(PTRACE_GETREGS, tid, nullptr, &regs) != 0) return 0;
  auto result = static_cast<long>(regs.rax);
  constexpr long kRestartSys = 512, kRestartNoIntr = 513, kRestartNoHand = 514,
                 kRestartBlock = 516;  // include/linux/errno.h
  if (result != -kRestartSys && result != -kRestartNoIntr && result != -kRestartNoHand &&
      result != -kRestartBlock) {
    return 0;
  }
  auto nr = static_cast<long>(regs.orig_rax);
  if (nr != SYS_pause && !(nr == SYS_futex && futex_wait_op(regs.rsi))) return 0;
  return result == -kRestartBlock ? SYS_restart_syscall : nr;
}

// `tid`, resumed from such a stop with PTRACE_SYSCALL, is at a syscall stop: true when it is the
// entry of `call`, the restart expected. Anything else (another call: the thread did not go
// back into its wait, its code at the restart address was changed) ends the parking. Only the
// restart expected may enter restart_syscall: what that runs is whatever call last left a
// restart behind, and a poll's or a nanosleep's writes memory.
bool entering_parking_call(pid_t tid, long call) {
  __ptrace_syscall_info info{};
  long size = ::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info);
  if (size <= 0 || info.op != PTRACE_SYSCALL_INFO_ENTRY || info.arch != AUDIT_ARCH_X86_64) {
    return false;
  }
  auto nr = static_cast<long>(info.entry.nr);
  return nr == call && (nr != SYS_futex || futex_wait_op(info.entry.args[1]));
}

// `tid` is at the signal-delivery stop of a fault the kernel forced on it (SIGSEGV, SIGBUS,
// SIGILL, SIGFPE: si_code > 0; abort() ends in one, its hlt after SIGABRT did nothing), left to
// the default action, in the init of a PID namespace. Natively force_sig_info_to_task() clears
// SIGNAL_UNKILLABLE and the fault kills the init; for a traced task it keeps the flag ("users
// won't expect debugging to leave init killable"), get_signal() then drops the signal we
// inject (an init takes no signal it has no handler for, but SIGKILL and SIGSTOP), and the
// instruction faults again: for ever.
bool forced_fault_on_init(pid_t tid, int sig) {
  if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE) return false;
  siginfo_t info{};
  if (::ptrace(PTRACE_GETSIGINFO, tid, nullptr, &info) != 0 || info.si_code <= 0) return false;
  std::optional<uint64_t> caught = status_number(tid, "SigCgt:", 16);
  if (!caught || (*caught & (uint64_t{1} << (sig - 1))) != 0) return false;  // a handler runs
  return status_number(tid, "NStgid:", 10) == 1u;
}

// The tracer: owns every tracee, the event queue, and the handlers. Runs on one thread.
class Tracer {
 public:
  Tracer(const Policy& policy, const SuperviseOptions& options, OrphanRule orphans,
         MemfdLedger& ledger, AuditLog& audit, int signal_fd)
      : dispatcher_(policy, options, ledger, audit),
        ledger_(ledger),
        audit_(audit),
        check_images_(options.check_exec_images),
        exit_kill_(options.tree_dies_with_us),
        signal_fd_(signal_fd),
        orphans_(orphans) {}

  // Seizes the child whose pid arrives on `handshake`, lets it exec, and supervises the tree.
  // Returns false (with `error`) when the child never arrived or could not be seized.
  bool attach(int handshake, std::string& error);
  int run();  // returns the main target's exit status
  // True when the run was ended because the audit log was tampered with (--audit-strict).
  bool ended_for_audit() const { return ended_for_audit_; }
  // Processes the main target left running that the tracer ended (without tree_init).
  uint64_t orphans_ended() const { return tree_ ? tree_->ended() : 0; }

  // For PtraceChannel.
  bool alive(pid_t tid) const { return tracees_.count(tid) != 0; }
  void resume(pid_t tid, int sig = 0, __ptrace_request request = PTRACE_CONT);
  // Stops every tracee but `tid`; their events wait in the queue. False if `tid` died meanwhile.
  bool freeze_except(pid_t tid);
  // Runs `tid`'s current syscall to its exit stop (other events are queued). False if it died.
  bool run_to_syscall_exit(pid_t tid);
  // Kills (SIGKILL) every process in the tree, other than `tid`'s own, that shares `tid`'s fd
  // table (clone with CLONE_FILES): a memfd the kernel put there that memfd-warden refuses
  // would outlive the caller in them. For a frozen tree, from a caller still stopped.
  void kill_fd_table_sharers(pid_t tid);

 private:
  // A tracee a freeze found asleep in a call that writes none of its memory (a futex wait,
  // pause) is let back into that call with PTRACE_SYSCALL: once inside, it cannot run an
  // instruction of its own before the call's exit stop, so later freezes need not stop it.
  enum class Parked : uint8_t {
    kNo,
    // Resumed after the freeze's stop, to restart the call. It returns to user space to do so
    // and may run code of its own instead (the instruction at its restart address rewritten by
    // another thread, or an rseq abort): freezes still stop it.
    kEntering,
    kInside,  // back in the call: its exit stop comes before anything else it does
  };
  struct Tracee {
    bool held = false;      // stopped, with an event we have not acted on yet
    bool in_vfork = false;  // blocked in the kernel until its vfork child execs or exits
    bool started = false;   // its first stop (the one every new tracee reports) was handled
    // Its parent's fork event was handled. A new tracee's first stop can be reported (and it
    // can run, and even exit) before that event is: its parent must not then wait for it.
    bool fork_seen = false;
    Parked parked = Parked::kNo;
    long parked_call = 0;  // kEntering: the call the restart must enter
    // Execs from another thread that took this pid over (the task that had it died unseen).
    uint32_t taken_over = 0;
    // A thread-group leader that ended while other threads run on (pthread_exit from main): the
    // kernel reports its end only with the last thread's, and it never stops or runs again, so
    // freezes pass it by. An exec from another thread takes its pid over as a fresh tracee.
    bool zombie = false;
  };

  // Reads one wait status, if one is ready. Returns false when there was none.
  bool collect_one();
  // A freeze that has heard nothing for kFreezeQuietMs looks for tracees in `waiting` that will
  // never stop (zombie leaders) and marks them.
  static constexpr int kFreezeQuietMs = 10;
  void mark_zombies(const std::vector<pid_t>& waiting);
  void note(pid_t pid, int status);
  void forget_replaced_leader(pid_t leader, pid_t former);
  void handle(pid_t pid, int status);
  void handle_seccomp_stop(pid_t tid);
  // See forced_fault_on_init(): the init is killed (SIGKILL), and its namespace with it.
  void end_faulting_init(pid_t tid, int sig);
  // A new tracee's first stop was handled (or it died before): the parent may run now.
  void release_parent_of(pid_t child);

  CallDispatcher dispatcher_;
  MemfdLedger& ledger_;
  AuditLog& audit_;
  bool ended_for_audit_ = false;
  bool check_images_;
  bool exit_kill_;
  int signal_fd_;
  pid_t main_pid_ = -1;
  OrphanRule orphans_;
  std::unique_ptr<ProcessTree> tree_;
  std::unordered_map<pid_t, Tracee> tracees_;
  std::deque<std::pair<pid_t, int>> events_;
  std::vector<pid_t> freezing_;  // scratch for freeze_except
  // New tracee -> the tracee that forked or cloned it, held at its fork event until the new one
  // has left its first stop. That stop shows as 't' in /proc and nothing native matches it: a
  // parent let run first could take it for a job-control stop and send its SIGCONT too early.
  std::unordered_map<pid_t, pid_t> parent_held_;
  // Tracees that died before their parent's fork event was handled (before or after their own
  // first stop), until it is: the parent must not wait for that stop then.
  std::unordered_set<pid_t> died_unstarted_;
  bool no_children_ = false;
};

// CallChannel over a tracee stopped at its seccomp stop.
class PtraceChannel final : public CallChannel {
 public:
  PtraceChannel(Tracer& tracer, pid_t tid, Abi abi) : tracer_(tracer), tid_(tid), abi_(abi) {}

  // The rest of the tree is stopped (or parked) for this call: a call let through then runs to
  // its end before anyone else may run, so what was checked (a name, an fd, a mapping) is what
  // the kernel uses.
  void set_frozen() { frozen_ = true; }
  // The caller is gone and its tid names another task now: answer nothing, resume nothing.
  void abandon() { answered_ = true; }
  // In a freeze the thread that would fill a userfaultfd page is stopped: no read may wait for
  // one (it reads as unreadable). Outside one, reads wait as the caller's own access would.
  MemoryReader memory_reader() const override {
    return frozen_ ? MemoryReader::kProcMem : MemoryReader::kProcessVm;
  }
  ~PtraceChannel() override {
    if (!answered_) pass_through();  // never leave a tracee stopped behind us
  }
  // Exec calls are trapped only where exec is checked, and then every exec event is too.
  bool judges_loaded_image() const override { return true; }

  bool caller_waiting() override {
    // The tracee sits in a stop we have not released; only SIGKILL can end it. The kernel answers
    // a ptrace request only for a tracee still in that stop with no fatal signal pending, which
    // also covers the moment when a killed thread has dropped its memory but is not a zombie yet
    // (waitid shows nothing then, and reading its memory fails with ESRCH).
    if (!tracer_.alive(tid_)) return false;
    unsigned long message = 0;
    return ::ptrace(PTRACE_GETEVENTMSG, tid_, nullptr, &message) == 0;
  }

  int fail(int error) override { return finish(-static_cast<int64_t>(error)); }
  int complete(int64_t value) override { return finish(value); }

  int pass_through() override {
    answered_ = true;
    if (!tracer_.alive(tid_)) return ENOENT;
    if (frozen_ && !at_exit_) {
      if (!tracer_.run_to_syscall_exit(tid_)) return ENOENT;
      at_exit_ = true;
    }
    tracer_.resume(tid_);
    return 0;
  }

  bool killed_caller() const override { return killed_; }

  int pass_through_as_mmap2(const std::array<uint64_t, 6>& args) override {
    constexpr long kI386Mmap2 = 192;
    user_regs_struct regs{};
    if (!tracer_.alive(tid_) || ::ptrace(PTRACE_GETREGS, tid_, nullptr, &regs) != 0) {
      answered_ = true;
      return ENOENT;
    }
    regs.orig_rax = kI386Mmap2;
    regs.rbx = args[0];
    regs.rcx = args[1];
    regs.rdx = args[2];
    regs.rsi = args[3];
    regs.rdi = args[4];
    regs.rbp = args[5];
    if (::ptrace(PTRACE_SETREGS, tid_, nullptr, &regs) != 0) {
      answered_ = true;
      return ENOENT;
    }
    return pass_through();
  }

  int deliver_memfd(const MemfdSpec& spec, const std::function<bool(int)>& on_created) override {
    // exec = "deny": the caller's own call makes it sealable, and its own namespace decides
    // whether the exec seal is implied (vm.memfd_noexec); seal_traced_memfd() completes it below.
    // Flags are a register, so the change is ours alone (x86_64 and x32 pass them in rsi, i386
    // in ecx).
    if (spec.call == CreateCall::kMemfdCreate &&
        traced_call_flags(spec.flags, spec.seal_noexec) != spec.flags) {
      user_regs_struct regs{};
      if (::ptrace(PTRACE_GETREGS, tid_, nullptr, &regs) != 0) return -ENOENT;
      auto& flags_register = abi_ == Abi::kI386 ? regs.rcx : regs.rsi;
      flags_register = traced_call_flags(spec.flags, spec.seal_noexec);
      if (::ptrace(PTRACE_SETREGS, tid_, nullptr, &regs) != 0) return -ENOENT;
    }
    // The kernel makes this memfd from the name in the caller's memory. The tracer froze the
    // rest of the tree before the name was read, so the name it reads is the one we checked.
    if (!tracer_.run_to_syscall_exit(tid_)) {
      answered_ = true;
      return -ENOENT;
    }
    at_exit_ = true;
    user_regs_struct regs{};
    if (::ptrace(PTRACE_GETREGS, tid_, nullptr, &regs) != 0) return -ENOENT;
    auto result = static_cast<int64_t>(regs.rax);
    if (result < 0) return static_cast<int>(result);  // the kernel refused; fail() re-answers it
    int fd = static_cast<int>(result);
    UniqueFd pidfd(sys::pidfd_open_flags(tid_, O_EXCL));  // PIDFD_THREAD
    if (!pidfd.valid()) pidfd = UniqueFd(sys::pidfd_open(tgid()));
    UniqueFd reference(pidfd.valid() ? sys::pidfd_getfd(pidfd.get(), fd) : -1);
    bool ok = reference.valid() && carries_name(reference.get(), spec) &&
              (spec.call != CreateCall::kMemfdCreate ||
               seal_traced_memfd(reference.get(), spec.flags, spec.seal_noexec) == 0) &&
              on_created(reference.get());
    if (!ok) {
      // A caller killed meanwhile has left its stop (and soon its fds, so the fetch fails): it
      // is gone, not lying. One still stopped holds a memfd that is not the one we decided, or
      // that we cannot track: fail closed. The caller must not go on with it.
      bool gone = ::ptrace(PTRACE_GETREGS, tid_, nullptr, &regs) != 0 && errno == ESRCH;
      if (gone) {
        spdlog::debug("thread {} was killed before its memfd {} could be checked", tid_, fd);
      } else {
        spdlog::error(
            "memfd {} in thread {} does not carry the checked name, or cannot be "
            "tracked; killing the process",
            fd, tid_);
      }
      // Processes that share its fd table hold the memfd too: they go with it, found while the
      // caller is still stopped (kcmp compares live tables).
      if (!gone) tracer_.kill_fd_table_sharers(tid_);
      if (pidfd.valid()) killed_ = !gone && sys::pidfd_send_signal(pidfd.get(), SIGKILL) == 0;
      reference.reset();
      answered_ = true;
      tracer_.resume(tid_);
      return gone ? -ENOENT : -EPERM;
    }
    // Our reference goes before the tracee runs again: memfd-warden must never hold a memfd
    // the target can see.
    reference.reset();
    answered_ = true;
    tracer_.resume(tid_);
    return fd;
  }

 private:
  int finish(int64_t value) {
    answered_ = true;
    if (!tracer_.alive(tid_)) return ENOENT;
    user_regs_struct regs{};
    if (::ptrace(PTRACE_GETREGS, tid_, nullptr, &regs) != 0) return ENOENT;
    // At the seccomp stop: skip the call (number -1) and make `value` its return value
    // (seccomp(2)). At the exit stop the call has run; only the return value changes.
    if (!at_exit_) regs.orig_rax = static_cast<unsigned long long>(-1);
    regs.rax = static_cast<unsigned long long>(value);
    if (::ptrace(PTRACE_SETREGS, tid_, nullptr, &regs) != 0) return ENOENT;
    tracer_.resume(tid_);
    return 0;
  }

  pid_t tgid() const {
    std::optional<uint64_t> tgid = status_number(tid_, "Tgid:", 10);
    return tgid ? static_cast<pid_t>(*tgid) : -1;
  }

  static bool carries_name(int fd, const MemfdSpec& spec) {
    char link[512];
    auto identity = memfd_identity(fd, link);
    if (!identity || identity->call != spec.call) return false;
    return spec.call == CreateCall::kMemfdSecret || identity->name == spec.name;
  }

  Tracer& tracer_;
  pid_t tid_;
  Abi abi_;
  bool answered_ = false;
  bool killed_ = false;  // deliver_memfd() killed the caller
  bool at_exit_ = false;
  bool frozen_ = false;
};

bool Tracer::attach(int handshake, std::string& error) {
  // The child's byte comes with its credentials (SO_PASSCRED on our end): its pid as we
  // number it, whatever PID namespace it is in.
  char hello = 0;
  iovec data{&hello, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  pid_t pid = -1;
  if (::recvmsg(handshake, &message, MSG_CMSG_CLOEXEC) == 1) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials{};
        std::memcpy(&credentials, CMSG_DATA(c), sizeof(credentials));
        pid = credentials.pid;
      }
    }
  }
  if (pid <= 0) {
    error = "the child exited before it could be traced";
    return false;
  }
  // EXITKILL: if we die, every tracee is killed (--on-supervisor-exit=kill). Without it the
  // tracees are detached, and their trapped calls then fail with ENOSYS.
  long options = kTraceOptions | (exit_kill_ ? PTRACE_O_EXITKILL : 0);
  if (::ptrace(PTRACE_SEIZE, pid, nullptr, options) != 0) {
    error = std::string("PTRACE_SEIZE: ") + std::strerror(errno) +
            " (is ptrace allowed here? see kernel.yama.ptrace_scope)";
    ::kill(pid, SIGKILL);
    return false;
  }
  main_pid_ = pid;
  ledger_.set_tree(pid);
  tracees_[pid] = Tracee{};
  tree_ = std::make_unique<ProcessTree>(pid, UniqueFd(sys::pidfd_open(pid)), orphans_);
  char go = 'G';
  if (::write(handshake, &go, 1) != 1) {
    error = std::string("releasing the traced child: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void Tracer::resume(pid_t tid, int sig, __ptrace_request request) {
  auto it = tracees_.find(tid);
  if (it != tracees_.end()) it->second.held = false;
  // ESRCH: it died meanwhile; its exit arrives through waitpid.
  ::ptrace(request, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig)));
}

void Tracer::note(pid_t pid, int status) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    auto it = tracees_.find(pid);
    // Before its parent's fork event was handled (before or after its own first stop): the
    // parent must not wait for it. After it, a parent still held is released by handle().
    if (pid != main_pid_ && (it == tracees_.end() || !it->second.fork_seen)) {
      died_unstarted_.insert(pid);
    }
    tracees_.erase(pid);
    if (pid == main_pid_) tree_->note_exit(pid, status);
  } else if (WIFSTOPPED(status)) {
    tracees_[pid].held = true;  // unknown pids are new tracees reporting their first stop
    unsigned long former = 0;
    if (ptrace_event(status) == PTRACE_EVENT_EXEC &&
        ::ptrace(PTRACE_GETEVENTMSG, pid, nullptr, &former) == 0 &&
        static_cast<pid_t>(former) != pid) {
      forget_replaced_leader(pid, static_cast<pid_t>(former));
    }
  }
  events_.emplace_back(pid, status);
}

void Tracer::forget_replaced_leader(pid_t leader, pid_t former) {
  // An execve from thread `former` reports under the leader's pid: the exec'ing thread takes it
  // over, and the old leader and `former` are gone without a report of their own (de_thread).
  // Whatever was queued or recorded under either number belongs to tasks that no longer exist:
  // acting on it (a resume, a freeze waiting for a stop) would act on the new image, which must
  // stay stopped until its exec event has been handled.
  std::erase_if(events_,
                [&](const auto& event) { return event.first == leader || event.first == former; });
  std::erase_if(parent_held_,
                [&](const auto& held) { return held.second == leader || held.second == former; });
  Tracee fresh;
  fresh.held = true;  // at the exec event
  fresh.started = true;
  fresh.fork_seen = tracees_[leader].fork_seen;
  fresh.taken_over = tracees_[leader].taken_over + 1;
  tracees_.erase(former);
  tracees_[leader] = fresh;
}

bool Tracer::collect_one() {
  int status = 0;
  pid_t pid = ::waitpid(-1, &status, __WALL | WNOHANG);
  if (pid > 0) {
    note(pid, status);
    return true;
  }
  if (pid < 0 && errno == ECHILD) no_children_ = true;
  return false;
}

bool Tracer::freeze_except(pid_t tid) {
  std::vector<pid_t>& waiting = freezing_;  // reused: no allocation once it has grown
  waiting.clear();
  for (auto& [pid, tracee] : tracees_) {
    if (pid == tid || tracee.held || tracee.in_vfork || tracee.parked == Parked::kInside ||
        tracee.zombie) {
      continue;
    }
    // A vfork parent is blocked in the kernel until its child execs: it cannot touch memory and
    // would not stop for INTERRUPT anyway. A parked tracee inside its call reports a stop before
    // it can.
    if (::ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) == 0) waiting.push_back(pid);
  }
  sigset_t child_events;
  sigemptyset(&child_events);
  sigaddset(&child_events, SIGCHLD);  // blocked (main.cc): it stays pending until taken here
  for (;;) {
    bool all = true;
    for (pid_t pid : waiting) {
      auto it = tracees_.find(pid);
      if (it != tracees_.end() && !it->second.held && !it->second.zombie) all = false;
    }
    if (all) break;
    if (collect_one()) continue;
    if (no_children_) break;
    // Every stop and exit raises SIGCHLD; one that came after the look above ends this wait. A
    // SIGCHLD taken here is not lost to the main loop: it collects every status before it waits.
    timespec quiet{0, kFreezeQuietMs * 1000 * 1000};
    if (::sigtimedwait(&child_events, nullptr, &quiet) < 0 && errno == EAGAIN) {
      mark_zombies(waiting);
    }
  }
  return alive(tid);
}

void Tracer::mark_zombies(const std::vector<pid_t>& waiting) {
  for (pid_t pid : waiting) {
    auto it = tracees_.find(pid);
    if (it == tracees_.end() || it->second.held || it->second.zombie) continue;
    // Z: a leader whose thread group lives on (any other tracee's end is reported to us at once,
    // and collected above). The state is the kernel's word: a task in it runs no code again.
    if (thread_state(pid) == 'Z') {
      spdlog::debug("thread {} is a zombie leader: freezes no longer wait for it", pid);
      it->second.zombie = true;
    }
  }
}

void Tracer::kill_fd_table_sharers(pid_t tid) {
  std::optional<uint64_t> own_group = status_number(tid, "Tgid:", 10);
  std::unordered_set<uint64_t> killed;
  for (const auto& [other, tracee] : tracees_) {
    if (other == tid || tracee.zombie) continue;
    if (::syscall(SYS_kcmp, tid, other, KCMP_FILES, 0, 0) != 0) continue;
    // Our tracee, not yet waited for by us: its tid cannot have been reused.
    std::optional<uint64_t> group = status_number(other, "Tgid:", 10);
    if (!group || group == own_group || killed.count(*group)) continue;
    if (::syscall(SYS_tgkill, static_cast<pid_t>(*group), other, SIGKILL) == 0) {
      killed.insert(*group);
      spdlog::error("killing process {} too: it shares thread {}'s fd table", *group, tid);
    }
  }
}

bool Tracer::run_to_syscall_exit(pid_t tid) {
  resume(tid, 0, PTRACE_SYSCALL);
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(tid, &status, __WALL);
    if (pid != tid) return false;
    if (WIFSTOPPED(status) && WSTOPSIG(status) == kSyscallStop) {
      tracees_[tid].held = true;
      return true;
    }
    note(tid, status);  // exit, or another stop (queued for the loop)
    if (!alive(tid)) return false;
    if (WIFSTOPPED(status)) {
      // A signal-delivery stop before the call returned: deliver it later, keep going now.
      events_.pop_back();
      resume(tid, 0, PTRACE_SYSCALL);
    }
  }
}

void Tracer::handle_seccomp_stop(pid_t tid) {
  __ptrace_syscall_info info{};
  long size = ::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info);
  std::optional<TrappedSyscall> call;
  if (size > 0 && info.op == PTRACE_SYSCALL_INFO_SECCOMP) {
    call = classify_syscall(info.arch, static_cast<int32_t>(info.seccomp.nr));
  }
  PtraceChannel channel(*this, tid, call ? call->abi : Abi::kX86_64);
  if (size <= 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP) {
    channel.pass_through();
    return;
  }
  if (!call) {
    spdlog::error("unexpected traced syscall {} (arch {:#x}); answering ENOSYS", info.seccomp.nr,
                  info.arch);
    channel.fail(ENOSYS);
    return;
  }
  TrappedRequest request;
  request.tid = tid;
  request.syscall = *call;
  request.args = kernel_args(*call, info.seccomp.args);
  CallGroup group = call_group(call->call);
  if (call->call == TrappedCall::kMemfdCreate) {
    // The name's pages faulted in while the tree still runs: one that the tree itself must
    // supply (a file of its own FUSE server, a userfaultfd page) arrives as natively. The read
    // in the freeze below then finds it present, where it would otherwise wait on a stopped
    // server, or fail. Only the read in the freeze counts.
    char scratch[kMaxMemfdName + 1];
    (void)read_target_name(MemoryReader::kProcessVm, tid, request.args[0], scratch);
  }
  if (group == CallGroup::kCreate || group == CallGroup::kExecMap) {
    // Before the name or the fd is read: from here until the call returns nobody else in the
    // tree runs, so the name the kernel reads, the file an fd number names, and the mappings
    // of a range (if the call is allowed) are the ones we checked.
    uint32_t taken_over = tracees_[tid].taken_over;
    if (!freeze_except(tid)) return;  // the caller died meanwhile
    if (tracees_[tid].taken_over != taken_over) {
      // The caller was a leader, and another of its threads exec'd meanwhile: the caller is
      // gone, and its pid is the new image's, stopped at its exec event.
      channel.abandon();
      return;
    }
    channel.set_frozen();
  }
  dispatcher_.handle(request, channel);
}

void Tracer::end_faulting_init(pid_t tid, int sig) {
  // Traced, it cannot die of its fault (above). Detached to die of it untraced, it would run on
  // untraced if another thread made the page valid in between, and could start untraced threads
  // that no freeze stops. So it is killed, stopped where it is: the whole process, and with it,
  // as PID 1, its namespace, as the fault would have done. The one difference is the status its
  // parent sees: SIGKILL, not the fault's signal (docs/fidelity.md). The pid is ours until we
  // reap it, so the signal cannot reach another process.
  spdlog::info(
      "thread {} is a PID-namespace init faulting with signal {}: killed, since a traced init "
      "cannot die of its fault",
      tid, sig);
  ::kill(tid, SIGKILL);
  resume(tid);  // a killed tracee leaves its stop and reports its exit
}

void Tracer::release_parent_of(pid_t child) {
  auto it = parent_held_.find(child);
  if (it == parent_held_.end()) return;
  pid_t parent = it->second;
  parent_held_.erase(it);
  if (alive(parent)) resume(parent);
}

void Tracer::handle(pid_t pid, int status) {
  if (!WIFSTOPPED(status)) {  // exits were noted when they were read
    if (parent_held_.count(pid) != 0) {
      died_unstarted_.erase(pid);  // its parent's fork event was handled already
      release_parent_of(pid);      // a child killed before its first stop
    }
    return;
  }
  if (!alive(pid)) tracees_[pid] = Tracee{true, false};
  // Whatever stop a parked tracee reports ends its parking, but the two its call makes.
  Parked parked = std::exchange(tracees_[pid].parked, Parked::kNo);
  int sig = WSTOPSIG(status);
  switch (ptrace_event(status)) {
    case PTRACE_EVENT_SECCOMP:
      handle_seccomp_stop(pid);
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
      unsigned long child = 0;
      ::ptrace(PTRACE_GETEVENTMSG, pid, nullptr, &child);
      // The new tracee starts stopped and reports that stop itself; it cannot run before.
      auto new_pid = static_cast<pid_t>(child);
      if (ptrace_event(status) == PTRACE_EVENT_VFORK) tracees_[pid].in_vfork = true;
      // Died already (its exit was read before this event). A live tracee with that number
      // means the record was an earlier task's (a thread's number is free once we reaped it).
      bool died = child > 0 && died_unstarted_.erase(new_pid) != 0;
      if (died && !alive(new_pid)) {
        resume(pid);
        return;
      }
      if (child > 0 && !alive(new_pid)) tracees_[new_pid] = Tracee{true, false};
      if (child > 0) tracees_[new_pid].fork_seen = true;
      if (child > 0 && !tracees_[new_pid].started) {
        parent_held_[new_pid] = pid;  // resumed when the child leaves its first stop
        return;
      }
      resume(pid);
      return;
    }
    case PTRACE_EVENT_VFORK_DONE:
      tracees_[pid].in_vfork = false;
      resume(pid);
      return;
    case PTRACE_EVENT_EXEC: {
      // An execve from a non-leader thread was accounted for when its event was read (note()).
      // The new image is in place and has not run an instruction; its other threads are gone
      // and nobody else shares its fresh memory. What runs now is checked here, whatever path
      // the exec named and whatever a racing thread did to it after the check at the call.
      if (check_images_ && dispatcher_.refuse_new_image(pid)) {
        ::kill(pid, SIGKILL);  // a stopped tracee: its pid cannot be reused before we reap it
      }
      resume(pid);
      return;
    }
    case PTRACE_EVENT_STOP:
      if (is_stop_signal(sig)) {
        // Group-stop (job control): stay stopped, as untraced, but let us hear of SIGCONT.
        tracees_[pid].held = false;
        ::ptrace(PTRACE_LISTEN, pid, nullptr, nullptr);
      } else if (long restart = tracees_[pid].started ? restart_of_memoryless_wait(pid) : 0;
                 restart != 0) {
        // The end of a freeze that found it asleep in such a call: park it (see Parked).
        resume(pid, 0, PTRACE_SYSCALL);
        tracees_[pid].parked = Parked::kEntering;
        tracees_[pid].parked_call = restart;
      } else {
        resume(pid);  // a new tracee's first stop, or the end of a freeze
      }
      if (!tracees_[pid].started) {
        tracees_[pid].started = true;
        release_parent_of(pid);  // only now may the parent run and look at it
      }
      return;
    default:
      break;
  }
  if (sig == kSyscallStop) {
    if (parked == Parked::kEntering && entering_parking_call(pid, tracees_[pid].parked_call)) {
      resume(pid, 0, PTRACE_SYSCALL);  // into the restarted call, to stop at its exit
      tracees_[pid].parked = Parked::kInside;
      return;
    }
    // The exit stop of a parked call (it woke), or a syscall stop nobody waits for any more.
    resume(pid);
    return;
  }
  if (forced_fault_on_init(pid, sig)) {
    end_faulting_init(pid, sig);
    return;
  }
  resume(pid, sig);  // signal-delivery stop: deliver the signal as the kernel would have
}

int Tracer::run() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 0;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, signal_fd_, &event);
  if (ledger_.event_fd() >= 0) {  // -1: nothing counts live memfds
    event.data.u64 = 1;
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, ledger_.event_fd(), &event);
  }
  if (audit_.watch_fd() >= 0) {
    event.data.u64 = 2;
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, audit_.watch_fd(), &event);
  }
  for (;;) {
    while (!events_.empty()) {
      auto [pid, status] = events_.front();
      events_.pop_front();
      handle(pid, status);
    }
    while (collect_one()) {
    }
    if (!events_.empty()) continue;
    if (no_children_) break;  // ECHILD: no child and no tracee is left anywhere in the tree
    tree_->tend();            // once the main target has exited: end what it left running
    if (audit_.strict_failure() && !ended_for_audit_) {
      // --audit-strict: the log was tampered with; end the run. The init of the tree's PID
      // namespace (or the main process) takes the rest with it.
      ended_for_audit_ = true;
      tree_->forward(SIGKILL);
      continue;
    }
    epoll_event ready[3];
    int n = ::epoll_wait(epoll.get(), ready, 3, audit_.wait_ms(tree_->wait_timeout_ms()));
    if (n == 0) audit_.check_size_now();
    for (int i = 0; i < n; ++i) {
      if (ready[i].data.u64 == 1) {
        ledger_.drain();
        continue;
      }
      if (ready[i].data.u64 == 2) {
        audit_.check_watch();
        continue;
      }
      signalfd_siginfo info{};
      while (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo != SIGCHLD) tree_->forward(static_cast<int>(info.ssi_signo));
      }
    }
  }
  return tree_->exit_code();
}

}  // namespace

SuperviseResult run_ptrace_backend(const Policy& policy, const SuperviseOptions& options,
                                   LaunchRequest request, int signal_fd, AuditLog& audit) {
  SuperviseResult result;
  auto ledger = MemfdLedger::open(policy.rules.size(), options.count_live);
  if (!ledger) {
    result.error = ledger.error().message();
    return result;
  }
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    result.error = std::string("socketpair: ") + std::strerror(errno);
    return result;
  }
  UniqueFd ours(sockets[0]), theirs(sockets[1]);
  int pass_credentials = 1;
  if (::setsockopt(ours.get(), SOL_SOCKET, SO_PASSCRED, &pass_credentials,
                   sizeof(pass_credentials)) != 0) {
    result.error = std::string("setsockopt(SO_PASSCRED): ") + std::strerror(errno);
    return result;
  }
  Tracer tracer(policy, options, request.orphans, *ledger, audit, signal_fd);
  std::string attach_error;
  bool attached = false;
  int exit_code = 125;
  // ptrace requests must come from the tracer, and launch() blocks until the child has exec'd
  // (or, as the init, loaded its filter), which it does only once it is traced: so the tracer
  // is its own thread.
  std::thread thread([&] {
    attached = tracer.attach(ours.get(), attach_error);
    if (attached) exit_code = tracer.run();
  });
  request.mode = LaunchMode::kPtrace;
  request.handshake_fd = theirs.get();
  LaunchResult launched = launch_in_namespace(request);
  theirs.reset();
  if (!launched.target) ::shutdown(ours.get(), SHUT_RDWR);  // wakes a tracer still waiting
  thread.join();
  if (!launched.target) {
    result.exit_code = launched.failure->exit_code;
    result.error = launched.failure->message;
    return result;
  }
  if (!attached) {
    result.exit_code = 125;
    result.error = attach_error;
    return result;
  }
  result.exit_code = exit_code;
  if (tracer.ended_for_audit()) {
    result.exit_code = 125;
    result.error = "the audit log was " + audit.tampering() +
                   " during the run (--audit-strict); the target was killed";
  }
  result.orphans_ended =
      request.through_tree_init ? read_init_report(request.report_read_fd) : tracer.orphans_ended();
  ledger->drain();
  fill_totals(result, *ledger, policy);
  return result;
}

}  // namespace warden
