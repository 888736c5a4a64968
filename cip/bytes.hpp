// Reader and Writer: the only code in cip/ that touches raw bytes. Every other codec goes
// through them, so bounds are checked in exactly one place.
//
// Both are "sticky": the first failure is recorded, later reads return 0 / empty spans and
// later writes do nothing. A decoder reads all of its fields straight through and checks ok()
// once, which keeps the codecs short without giving up a single bounds check.
//
// CIP is little-endian on the wire (CIP Vol 1, Appendix C, "Data Management"); only the
// Sockaddr Info items of EtherNet/IP are big-endian (CIP Vol 2, "Common Packet Format"),
// hence the _be forms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "cip/error.hpp"
#include "pm500/expected.hpp"

namespace cip {

using bytes_view = std::span<const std::uint8_t>;

class Reader {
 public:
  Reader(bytes_view data, const char* context) : data_(data), context_(context) {}

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return data_[pos_++];
  }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    auto v = static_cast<std::uint16_t>(data_[pos_] | (data_[pos_ + 1] << 8));
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return v;
  }
  std::uint16_t u16_be() {
    if (!need(2)) return 0;
    auto v = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32_be() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += 4;
    return v;
  }
  // A view of the next n bytes (no copy).
  bytes_view bytes(std::size_t n) {
    if (!need(n)) return {};
    auto v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  void skip(std::size_t n) { (void)bytes(n); }
  // Everything not read yet (and consumes it).
  bytes_view rest() { return bytes(remaining()); }

  // Records a semantic failure (bad value, bad length) at the current offset, or `at`.
  void fail(Errc code) { fail_at(code, pos_); }
  void fail_at(Errc code, std::size_t at) {
    if (ok_) error_ = Error{code, static_cast<std::uint32_t>(at), context_};
    ok_ = false;
  }

  bool ok() const { return ok_; }
  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  bool at_end() const { return remaining() == 0; }
  const Error& error() const { return error_; }
  pm500::unexpected<Error> failure() const { return pm500::unexpected<Error>(error_); }

 private:
  bool need(std::size_t n) {
    if (!ok_) return false;
    if (data_.size() - pos_ < n) {
      fail_at(Errc::truncated, pos_);
      return false;
    }
    return true;
  }

  bytes_view data_{};
  std::size_t pos_ = 0;
  bool ok_ = true;
  const char* context_;
  Error error_{};
};

// Writes into a caller-owned buffer; never allocates. After encoding, check ok() (or
// result()); a full buffer is Errc::buffer_too_small, a value that does not fit its field is
// Errc::too_large.
class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) : out_(out) {}

  void u8(std::uint8_t v) {
    if (need(1)) out_[pos_++] = v;
  }
  void u16(std::uint16_t v) {
    if (!need(2)) return;
    out_[pos_++] = static_cast<std::uint8_t>(v);
    out_[pos_++] = static_cast<std::uint8_t>(v >> 8);
  }
  void u32(std::uint32_t v) {
    if (!need(4)) return;
    for (int i = 0; i < 4; ++i) out_[pos_++] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void u16_be(std::uint16_t v) {
    if (!need(2)) return;
    out_[pos_++] = static_cast<std::uint8_t>(v >> 8);
    out_[pos_++] = static_cast<std::uint8_t>(v);
  }
  void u32_be(std::uint32_t v) {
    if (!need(4)) return;
    for (int i = 3; i >= 0; --i) out_[pos_++] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void bytes(bytes_view b) {
    if (!need(b.size())) return;
    for (auto c : b) out_[pos_++] = c;
  }
  void zeros(std::size_t n) {
    if (!need(n)) return;
    for (std::size_t i = 0; i < n; ++i) out_[pos_++] = 0;
  }

  // Back-patching of length fields written before their content is known.
  void patch_u8(std::size_t at, std::uint8_t v) {
    if (ok_ && at < pos_) out_[at] = v;
  }
  void patch_u16(std::size_t at, std::uint16_t v) {
    if (!ok_ || at + 2 > pos_) return;
    out_[at] = static_cast<std::uint8_t>(v);
    out_[at + 1] = static_cast<std::uint8_t>(v >> 8);
  }

  void fail(Errc code, const char* context) {
    if (ok_) error_ = Error{code, static_cast<std::uint32_t>(pos_), context};
    ok_ = false;
  }

  bool ok() const { return ok_; }
  std::size_t size() const { return pos_; }
  bytes_view written() const { return bytes_view(out_.data(), pos_); }
  const Error& error() const { return error_; }
  pm500::expected<bytes_view, Error> result() const {
    if (!ok_) return pm500::unexpected<Error>(error_);
    return written();
  }

 private:
  bool need(std::size_t n) {
    if (!ok_) return false;
    if (out_.size() - pos_ < n) {
      fail(Errc::buffer_too_small, "output buffer");
      return false;
    }
    return true;
  }

  std::span<std::uint8_t> out_{};
  std::size_t pos_ = 0;
  bool ok_ = true;
  Error error_{};
};

}  // namespace cip
