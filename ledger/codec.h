// The encoding primitives of PROTOCOL.md section 1, in one place: big-endian fixed-width
// integers, length-prefixed bytes and UTF-8 strings, counted lists, raw keys/hashes/signatures
// and untagged ASCII tags. Every signed or hashed object is built with a Writer and parsed with
// a Reader, so encoder and decoder cannot drift apart.
//
// Reader never reads past its input and caps every length and count with a limit the caller
// gives; each error names the field and the problem ("purposes[2]: length 70 exceeds 64").
// Writer and Reader are single-use value objects: thread-compatible, not thread-safe.
//
// Grammar (PROTOCOL.md section 1):
//   u8 | u32 | u64        fixed width, big-endian
//   bytes := u32 len, len raw bytes
//   str   := bytes holding valid UTF-8 without NUL
//   list<T> := u32 count, count items
//   key | hash := 32 raw bytes;  sig := 64 raw bytes;  tag(s) := ASCII of s, no prefix
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace consent {

// True iff `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF) with no NUL.
bool IsValidUtf8NoNul(std::string_view s);

class Writer {
 public:
  Writer() = default;
  explicit Writer(size_t reserve) { out_.reserve(reserve); }

  Writer& U8(uint8_t v);
  Writer& U32(uint32_t v);
  Writer& U64(uint64_t v);
  Writer& Raw(ByteView b);  // no length prefix (keys, hashes, signatures)
  template <size_t N>
  Writer& Fixed(const std::array<uint8_t, N>& a) {
    return Raw(ByteView(a.data(), N));
  }
  Writer& Bytes(ByteView b);  // u32 length, then bytes. REQUIRES: b.size() < 2^32
  Writer& Str(std::string_view s);
  Writer& Tag(std::string_view s) { return Raw(AsBytes(s)); }
  Writer& StrList(const std::vector<std::string>& items);

  const consent::Bytes& bytes() const& { return out_; }
  consent::Bytes Take() && { return std::move(out_); }

 private:
  consent::Bytes out_;
};

class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}

  Status U8(uint8_t* out, std::string_view field);
  Status U32(uint32_t* out, std::string_view field);
  Status U64(uint64_t* out, std::string_view field);
  template <size_t N>
  Status Fixed(std::array<uint8_t, N>* out, std::string_view field) {
    RETURN_IF_ERROR(Need(N, field));
    for (size_t i = 0; i < N; ++i) (*out)[i] = data_[pos_ + i];
    pos_ += N;
    return Status::Ok();
  }
  // `bytes` with a length of at most max_len.
  Status Bytes(consent::Bytes* out, size_t max_len, std::string_view field);
  // `str`: length <= max_len bytes, valid UTF-8, no NUL.
  Status Str(std::string* out, size_t max_len, std::string_view field);
  // `list<str>`: count <= max_count, each item a str of length <= max_item; items strictly
  // ascending by bytes (so sorted and without duplicates), as PROTOCOL.md requires of lists.
  Status SortedStrList(std::vector<std::string>* out, size_t max_count, size_t max_item,
                       std::string_view field);
  // Reads a list count, checking it against max_count and against the bytes left
  // (each item takes at least min_item_bytes), so a huge count fails before any allocation.
  Status Count(uint32_t* out, size_t max_count, size_t min_item_bytes, std::string_view field);

  // Fails unless every byte was consumed.
  Status ExpectEnd(std::string_view what) const;

  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  Status Need(size_t n, std::string_view field) const;

  ByteView data_;
  size_t pos_ = 0;
};

}  // namespace consent
