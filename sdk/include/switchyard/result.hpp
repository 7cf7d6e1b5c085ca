#pragma once
// Result<T>: a value or an Error whose kind says what the caller should do next; the one
// error convention of the SDK and the engine (Result<T, E> where an error needs more).
// Shaped like std::expected so it can be swapped for it once we move to C++23.

#include <cassert>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace switchyard {

/// What the caller should do about a failure.
enum class ErrorKind {
  retryable,       ///< Try the same operation again later (optionally after retry_after).
  permanent,       ///< Retrying cannot help: the event goes to the dead-letter queue.
  invalid_config,  ///< Stop until an operator fixes the configuration.
};

/// A failure with its kind, a one-line message and an optional retry hint.
struct Error {
  ErrorKind kind = ErrorKind::permanent;
  std::string message;
  std::optional<std::chrono::milliseconds> retry_after;  ///< Server-provided delay, if any.
};

/// Builds a retryable error, optionally with the delay the peer asked for.
inline Error retryable(std::string message,
                       std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
  return Error{ErrorKind::retryable, std::move(message), retry_after};
}
/// Builds a permanent error.
inline Error permanent(std::string message) {
  return Error{ErrorKind::permanent, std::move(message), std::nullopt};
}
/// Builds a configuration error.
inline Error invalid_config(std::string message) {
  return Error{ErrorKind::invalid_config, std::move(message), std::nullopt};
}

/// The lower-case name of an error kind ("retryable", "permanent", "invalid_config").
inline const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::retryable: return "retryable";
    case ErrorKind::permanent: return "permanent";
    case ErrorKind::invalid_config: return "invalid_config";
  }
  return "unknown";
}

/// Either a T or an error: an Error by default, or a richer one where the caller needs
/// more than a message (the expression parser's ParseError carries where it stopped).
template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const { assert(!has_value()); return std::get<1>(state_); }
  E& error() { assert(!has_value()); return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

/// Success or an error.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const E& error() const { assert(error_); return *error_; }
  E& error() { assert(error_); return *error_; }

 private:
  std::optional<E> error_;
};

using Status = Result<void>;

}  // namespace switchyard
