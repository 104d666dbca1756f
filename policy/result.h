// Result<T>: a value or an Error (raw errno plus a "what we did" context), for failures that can
// happen at run time. Method names follow std::expected so the type can be swapped for it once
// the toolchain has C++23. Owned by nobody: a vocabulary type shared by policy/ and supervisor/.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace warden {

struct Error {
  int code = 0;         // errno value, 0 when the failure has no errno (bad input)
  std::string context;  // "what we did", e.g. "opening /proc/42/status"

  // "context: strerror(code)", or just the context when there is no errno.
  std::string message() const {
    if (code == 0) return context;
    return context + ": " + std::strerror(code);
  }
};

// The current errno with a context, for the "what we did: strerror(errno)" shape.
inline Error errno_error(std::string context) { return Error{errno, std::move(context)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> has nothing to carry on success.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace warden
