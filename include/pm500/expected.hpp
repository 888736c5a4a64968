// pm500::expected -- the project's result type for fallible operations.
//
//   pm500::expected<Header, Error> r = decode_header(bytes);
//   if (!r) return pm500::unexpected(r.error());
//   use(*r);
//
// With GCC 12 and -std=c++23 this is std::expected. Clang 14 and 16 ship with libstdc++ 12 here,
// whose <expected> is disabled for them (it requires __cpp_concepts >= 202002L), and the fuzz
// targets are built with clang's libFuzzer; for them a minimal stand-in with the same subset of
// the interface is used. Only the subset below may be used anywhere in the project.
#pragma once

#include <version>

#if defined(__cpp_lib_expected)
#include <expected>
namespace pm500 {
using std::expected;
using std::unexpected;
}  // namespace pm500
#else
#include <type_traits>
#include <utility>
#include <variant>

namespace pm500 {

template <class E>
class unexpected {
 public:
  constexpr explicit unexpected(E e) : error_(std::move(e)) {}
  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }

 private:
  E error_;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class expected {
 public:
  constexpr expected() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, expected>)
  constexpr expected(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
  template <class G>
  constexpr expected(const unexpected<G>& u) : v_(std::in_place_index<1>, u.error()) {}
  template <class G>
  constexpr expected(unexpected<G>&& u) : v_(std::in_place_index<1>, std::move(u.error())) {}

  constexpr bool has_value() const noexcept { return v_.index() == 0; }
  constexpr explicit operator bool() const noexcept { return has_value(); }
  constexpr T& operator*() & { return std::get<0>(v_); }
  constexpr const T& operator*() const& { return std::get<0>(v_); }
  constexpr T&& operator*() && { return std::get<0>(std::move(v_)); }
  constexpr T* operator->() { return &std::get<0>(v_); }
  constexpr const T* operator->() const { return &std::get<0>(v_); }
  constexpr T& value() & { return std::get<0>(v_); }
  constexpr const T& value() const& { return std::get<0>(v_); }
  constexpr const E& error() const& { return std::get<1>(v_); }
  constexpr E& error() & { return std::get<1>(v_); }
  template <class U>
  constexpr T value_or(U&& d) const& { return has_value() ? **this : static_cast<T>(std::forward<U>(d)); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class expected<void, E> {
 public:
  constexpr expected() = default;
  template <class G>
  constexpr expected(const unexpected<G>& u) : e_(u.error()), ok_(false) {}
  template <class G>
  constexpr expected(unexpected<G>&& u) : e_(std::move(u.error())), ok_(false) {}
  constexpr bool has_value() const noexcept { return ok_; }
  constexpr explicit operator bool() const noexcept { return ok_; }
  constexpr void operator*() const noexcept {}
  constexpr const E& error() const& { return e_; }
  constexpr E& error() & { return e_; }

 private:
  E e_{};
  bool ok_ = true;
};

}  // namespace pm500
#endif
