#include "supervisor/agent/oci_profile.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <map>
#include <optional>

namespace warden {
namespace {

using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;
using Checks = std::vector<ArgCheck>;  // all hold; empty: always

// One routed call: the union of its rules on every ABI (any holds).
struct Route {
  std::string name;
  std::vector<Checks> when;
  bool always() const {
    return std::any_of(when.begin(), when.end(), [](const Checks& c) { return c.empty(); });
  }
};

// The trapped rules by call name, in the table's order. The errno rules are left out: under the
// runtime's listener the kernel refuses a second one (EBUSY) by itself.
std::vector<Route> routes_of(const std::vector<FilterRule>& rules) {
  std::vector<Route> routes;
  for (const auto& rule : rules) {
    if (rule.kind != FilterRule::Kind::kTrap) continue;
    auto it = std::find_if(routes.begin(), routes.end(),
                           [&](const Route& r) { return r.name == rule.name; });
    if (it == routes.end()) it = routes.insert(routes.end(), Route{rule.name, {}});
    if (it->always()) continue;
    if (rule.when.empty()) {
      it->when = {{}};
    } else if (std::find(it->when.begin(), it->when.end(), rule.when) == it->when.end()) {
      it->when.push_back(rule.when);
    }
  }
  return routes;
}

// One rule with checks on distinct arguments (libseccomp takes one comparison per argument):
// checks on the same argument are joined into one mask. nullopt when they contradict.
std::optional<Checks> joined(const Checks& checks) {
  std::map<unsigned, ArgCheck> by_arg;
  for (const auto& check : checks) {
    auto [it, fresh] = by_arg.emplace(check.arg, check);
    if (fresh) continue;
    uint64_t common = it->second.mask & check.mask;
    if ((it->second.value & common) != (check.value & common)) return std::nullopt;
    it->second.mask |= check.mask;
    it->second.value |= check.value;
  }
  Checks out;
  for (const auto& [arg, check] : by_arg) out.push_back(check);
  return out;
}

// The calls a route does not take, as rules of the same shape: not (O1 or O2 ...) is
// (not O1) and (not O2) ..., and each not-Oi is any one of its checks failing. Every check's
// mask is a single bit (filter_rules.cc), so a failing check is the same bit the other way.
std::vector<Checks> complement(const Route& route) {
  std::vector<Checks> terms{{}};
  for (const auto& any : route.when) {
    std::vector<Checks> next;
    for (const auto& term : terms) {
      for (const auto& check : any) {
        Checks grown = term;
        grown.push_back({check.arg, check.mask, check.value ^ check.mask});
        if (auto rule = joined(grown)) next.push_back(*rule);
      }
    }
    terms = std::move(next);
  }
  // Absorption: a term that asks for more than another adds nothing.
  auto covers = [](const Checks& small, const Checks& big) {
    for (const auto& s : small) {
      auto it = std::find_if(big.begin(), big.end(), [&](const ArgCheck& b) {
        return b.arg == s.arg && (b.mask & s.mask) == s.mask && (b.value & s.mask) == s.value;
      });
      if (it == big.end()) return false;
    }
    return true;
  };
  std::vector<Checks> kept;
  for (size_t i = 0; i < terms.size(); ++i) {
    bool redundant = false;
    for (size_t j = 0; j < terms.size() && !redundant; ++j) {
      if (i == j || !covers(terms[j], terms[i])) continue;
      redundant = !covers(terms[i], terms[j]) || j < i;  // equal terms: keep the first
    }
    if (!redundant) kept.push_back(terms[i]);
  }
  return kept;
}

Value text(std::string_view s, Alloc& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Value entry(const std::vector<std::string>& names, const char* action, const Checks& checks,
            Alloc& a) {
  Value out(rapidjson::kObjectType);
  Value list(rapidjson::kArrayType);
  for (const auto& name : names) list.PushBack(text(name, a), a);
  out.AddMember("names", list, a);
  out.AddMember("action", Value(action, a), a);
  if (!checks.empty()) {
    Value args(rapidjson::kArrayType);
    for (const auto& check : checks) {
      Value arg(rapidjson::kObjectType);
      // OCI's SCMP_CMP_MASKED_EQ: (argument & value) == valueTwo.
      arg.AddMember("index", check.arg, a);
      arg.AddMember("value", check.mask, a);
      arg.AddMember("valueTwo", check.value, a);
      arg.AddMember("op", "SCMP_CMP_MASKED_EQ", a);
      args.PushBack(arg, a);
    }
    out.AddMember("args", args, a);
  }
  return out;
}

constexpr const char* kNotify = "SCMP_ACT_NOTIFY";

// Appends the route's rules: the unconditional ones gathered into one entry at the end.
void add_route(Value& syscalls, const Route& route, bool with_remainder,
               std::vector<std::string>& always, Alloc& a) {
  if (route.always()) {
    always.push_back(route.name);
    return;
  }
  for (const auto& checks : route.when) syscalls.PushBack(entry({route.name}, kNotify, checks, a), a);
  if (!with_remainder) return;
  for (const auto& checks : complement(route)) {
    syscalls.PushBack(entry({route.name}, "SCMP_ACT_ALLOW", checks, a), a);
  }
}

void finish(Value& syscalls, const std::vector<std::string>& always, Alloc& a) {
  if (!always.empty()) syscalls.PushBack(entry(always, kNotify, {}, a), a);
}

void set_listener(rapidjson::Document& doc, const ProfileRequest& request) {
  auto& a = doc.GetAllocator();
  doc.RemoveMember("listenerPath");
  doc.RemoveMember("listenerMetadata");
  doc.AddMember("listenerPath", text(request.socket, a), a);
  if (!request.metadata.empty()) doc.AddMember("listenerMetadata", text(request.metadata, a), a);
}

std::string pretty(const rapidjson::Document& doc) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  writer.SetFormatOptions(rapidjson::kFormatSingleLineArray);
  doc.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

enum class Verdict { kAllows, kRefuses, kOther };

Verdict verdict_of(std::string_view action) {
  if (action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG") return Verdict::kAllows;
  if (action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_KILL" ||
      action == "SCMP_ACT_KILL_PROCESS" || action == "SCMP_ACT_KILL_THREAD" ||
      action == "SCMP_ACT_TRAP") {
    return Verdict::kRefuses;
  }
  return Verdict::kOther;
}

bool has_members(const Value& entry, const char* name) {
  auto it = entry.FindMember(name);
  return it != entry.MemberEnd() && !(it->value.IsObject() && it->value.ObjectEmpty()) &&
         !it->value.IsNull();
}

bool names_call(const Value& entry, std::string_view name) {
  auto names = entry.FindMember("names");
  if (names == entry.MemberEnd() || !names->value.IsArray()) return false;
  for (const auto& n : names->value.GetArray()) {
    if (n.IsString() && std::string_view(n.GetString(), n.GetStringLength()) == name) return true;
  }
  return false;
}

void drop_name(Value& entry, std::string_view name) {
  auto& names = entry["names"];
  for (auto it = names.Begin(); it != names.End();) {
    if (it->IsString() && std::string_view(it->GetString(), it->GetStringLength()) == name) {
      it = names.Erase(it);
    } else {
      ++it;
    }
  }
}

bool conditional(const Value& entry) {
  auto args = entry.FindMember("args");
  return args != entry.MemberEnd() && args->value.IsArray() && !args->value.Empty();
}

// For an entry whose comparisons are all equalities: does every call it matches fall inside the
// route (1), none (0), or can that not be told from the values it pins (nullopt)?
std::optional<bool> inside_route(const Value& args, const Route& route) {
  std::map<unsigned, uint64_t> pinned;
  for (const auto& arg : args.GetArray()) {
    if (!arg.IsObject()) return std::nullopt;  // FindMember on anything else reads garbage
    auto op = arg.FindMember("op");
    auto index = arg.FindMember("index");
    auto value = arg.FindMember("value");
    if (op == arg.MemberEnd() || !op->value.IsString() ||
        std::string_view(op->value.GetString()) != "SCMP_CMP_EQ" || index == arg.MemberEnd() ||
        !index->value.IsUint() || value == arg.MemberEnd() || !value->value.IsUint64()) {
      return std::nullopt;
    }
    auto [it, fresh] = pinned.emplace(index->value.GetUint(), value->value.GetUint64());
    if (!fresh && it->second != value->value.GetUint64()) return false;  // matches nothing
  }
  bool unknown = false;
  for (const auto& checks : route.when) {
    bool all = true, broken = false;
    for (const auto& check : checks) {
      auto it = pinned.find(check.arg);
      if (it == pinned.end()) {
        all = false;
      } else if ((it->second & check.mask) != check.value) {
        broken = true;
      }
    }
    if (!broken && all) return true;
    if (!broken) unknown = true;
  }
  if (unknown) return std::nullopt;
  return false;
}

}  // namespace

Result<void> check_container_policy(const Policy& policy, std::string_view origin) {
  if (policy.quota.strict_writes) {
    std::string where(origin);
    if (!policy.quota.strict_writes_at.empty()) where += ":" + policy.quota.strict_writes_at;
    return Error{0, where +
                        ": quota.strict_writes cannot hold in a container: it needs write(2) "
                        "routed to the agent, and runc refuses SCMP_ACT_NOTIFY on write (its "
                        "own writes to the agent would deadlock). Remove strict_writes; the byte "
                        "limits still hold for ftruncate, fallocate and truncate"};
  }
  return {};
}

Profile oci_profile(const std::vector<FilterRule>& rules, const ProfileRequest& request) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("defaultAction", "SCMP_ACT_ALLOW", a);
  Value arches(rapidjson::kArrayType);
  for (const char* arch : {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}) {
    arches.PushBack(Value(arch, a), a);
  }
  doc.AddMember("architectures", arches, a);
  set_listener(doc, request);
  Value syscalls(rapidjson::kArrayType);
  std::vector<std::string> always;
  for (const auto& route : routes_of(rules)) add_route(syscalls, route, false, always, a);
  finish(syscalls, always, a);
  doc.AddMember("syscalls", syscalls, a);
  return {pretty(doc), {}};
}

Result<Profile> merge_oci_profile(std::string_view existing, std::string_view origin,
                                  const std::vector<FilterRule>& rules,
                                  const ProfileRequest& request) {
  std::string where(origin);
  auto fail = [&](std::string why) { return Error{0, where + ": " + why}; };
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(existing.data(), existing.size());  // no recursion
  if (doc.HasParseError()) {
    return fail(std::string("not JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                " at byte " + std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return fail("a seccomp profile is a JSON object");
  auto& a = doc.GetAllocator();
  if (doc.HasMember("listenerPath")) {
    return fail("it already names a listener (listenerPath); a container has one seccomp agent");
  }
  auto default_action = doc.FindMember("defaultAction");
  if (default_action == doc.MemberEnd() || !default_action->value.IsString()) {
    return fail("it has no defaultAction");
  }
  Verdict fallback = verdict_of(default_action->value.GetString());
  if (fallback == Verdict::kOther) {
    return fail(std::string("its defaultAction ") + default_action->value.GetString() +
                " is not one the merge knows (allow, log, errno, kill, trap)");
  }
  if (!doc.HasMember("syscalls")) doc.AddMember("syscalls", Value(rapidjson::kArrayType), a);
  Value& syscalls = doc["syscalls"];
  if (!syscalls.IsArray()) return fail("its \"syscalls\" is not an array");
  for (rapidjson::SizeType i = 0; i < syscalls.Size(); ++i) {
    const Value& e = syscalls[i];
    bool entry_like = e.IsObject();  // FindMember and MemberEnd are for objects only
    if (entry_like) {
      auto action = e.FindMember("action");
      auto names = e.FindMember("names");
      entry_like = action != e.MemberEnd() && action->value.IsString() &&
                   names != e.MemberEnd() && names->value.IsArray();
    }
    if (!entry_like) {
      return fail("syscalls[" + std::to_string(i) + "] has no \"names\" array and \"action\"");
    }
    if (std::string_view(e["action"].GetString()) == kNotify) {
      return fail("syscalls[" + std::to_string(i) + "] already routes calls to a listener");
    }
  }

  Profile profile;
  std::vector<std::string> always;
  Value added(rapidjson::kArrayType);
  for (const auto& route : routes_of(rules)) {
    std::vector<rapidjson::SizeType> plain, argued;  // the entries naming it, by kind
    for (rapidjson::SizeType i = 0; i < syscalls.Size(); ++i) {
      Value& e = syscalls[i];
      if (!names_call(e, route.name)) continue;
      std::string at = "syscalls[" + std::to_string(i) + "]";
      if (has_members(e, "includes") || has_members(e, "excludes")) {
        return fail(at + " decides " + route.name +
                    " by includes/excludes (capabilities, architectures), which the merge "
                    "cannot combine with the agent's routing; merge it by hand");
      }
      if (verdict_of(e["action"].GetString()) == Verdict::kOther) {
        return fail(at + " gives " + route.name + " the action " + e["action"].GetString() +
                    ", which the merge cannot combine with the agent's");
      }
      (conditional(e) ? argued : plain).push_back(i);
    }
    auto refused_by = [&](rapidjson::SizeType i) {
      return verdict_of(syscalls[i]["action"].GetString()) == Verdict::kRefuses;
    };
    if (std::any_of(plain.begin(), plain.end(), refused_by)) {
      profile.notes.push_back(route.name + " stays refused, as the profile has it");
      continue;
    }
    if (!plain.empty() && !argued.empty()) {
      return fail("it decides " + route.name +
                  " both always and by its arguments; merge it by hand");
    }
    if (!plain.empty()) {  // allowed always: the agent's calls go to it, the rest stay allowed
      for (auto i : plain) drop_name(syscalls[i], route.name);
      add_route(added, route, true, always, a);
      continue;
    }
    if (argued.empty()) {
      if (fallback == Verdict::kRefuses) {
        profile.notes.push_back(route.name + " stays refused, by the profile's defaultAction");
      } else {
        add_route(added, route, false, always, a);
      }
      continue;
    }
    if (fallback == Verdict::kAllows) {
      return fail("it decides " + route.name +
                  " by its arguments under an allowing defaultAction; merge it by hand");
    }
    // Only some argument values are allowed, and those are named by equality: each such entry
    // lies wholly inside the route (its calls go to the agent) or wholly outside (they stay).
    for (auto i : argued) {
      auto inside = inside_route(syscalls[i]["args"], route);
      if (!inside) {
        return fail("syscalls[" + std::to_string(i) + "] decides " + route.name +
                    " by arguments the merge cannot hold against the agent's conditions; merge "
                    "it by hand");
      }
      if (!*inside || refused_by(i)) continue;
      Value routed = entry({route.name}, kNotify, {}, a);
      routed.AddMember("args", Value(syscalls[i]["args"], a), a);
      added.PushBack(routed, a);
      drop_name(syscalls[i], route.name);
    }
  }
  finish(added, always, a);
  for (auto it = syscalls.Begin(); it != syscalls.End();) {
    if ((*it)["names"].Empty()) {
      it = syscalls.Erase(it);
    } else {
      ++it;
    }
  }
  for (auto& e : added.GetArray()) syscalls.PushBack(e, a);
  set_listener(doc, request);
  auto arches = doc.FindMember("architectures");
  if (arches != doc.MemberEnd() && arches->value.IsArray()) {
    for (const char* arch : {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}) {
      bool listed = false;
      for (const auto& v : arches->value.GetArray()) listed |= v.IsString() && v == arch;
      if (!listed) {
        profile.notes.push_back(std::string("the profile does not list ") + arch +
                                ": its calls get what the runtime gives an unlisted architecture");
      }
    }
  }
  profile.json = pretty(doc);
  return profile;
}

}  // namespace warden
