// Status and Result<T>: errors as values on every path that handles outside input.
//
// A Status is a code plus a message a user can act on ("purposes[1]: not sorted ascending").
// Result<T> holds either a value or a non-OK Status. Neither throws; accessing the value of a
// failed Result is a programming error and aborts (checked by assert in debug builds and by
// std::get in all builds). Both types are plain values: thread-compatible, not thread-safe.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace consent {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // malformed input: bad encoding, bad JSON, a broken syntax rule
  kInvalidSignature,  // a signature that does not verify
  kRejected,          // well-formed but breaks a state or consensus rule
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,  // e.g. a key file readable by others
  kCorruption,        // stored data disagrees with itself
  kIoError,
  kUnavailable,  // try again later (full mempool, shutting down)
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Invalid(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status BadSignature(std::string m) {
    return {StatusCode::kInvalidSignature, std::move(m)};
  }
  static Status Rejected(std::string m) { return {StatusCode::kRejected, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: purposes[1]: not sorted ascending"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context + ": "` (no-op when OK).
  Status Prefixed(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; an OK status when the result holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace consent

// Early-return helpers for functions that return Status or Result<U>.
#define CONSENT_CONCAT_INNER(a, b) a##b
#define CONSENT_CONCAT(a, b) CONSENT_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::consent::Status _consent_st = (expr);    \
    if (!_consent_st.ok()) return _consent_st; \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

// ASSIGN_OR_RETURN(auto x, ParseThing(bytes));
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CONSENT_CONCAT(_consent_res_, __LINE__), lhs, expr)
