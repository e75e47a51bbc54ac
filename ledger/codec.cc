// Encoding primitives. Pure; thread-safe for distinct objects.
#include "ledger/codec.h"

namespace consent {

bool IsValidUtf8NoNul(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // stray continuation byte or 0xF8..0xFF
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
      return false;  // overlong
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Writer& Writer::U8(uint8_t v) {
  out_.push_back(v);
  return *this;
}

Writer& Writer::U32(uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<uint8_t>(v >> s));
  return *this;
}

Writer& Writer::U64(uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out_.push_back(static_cast<uint8_t>(v >> s));
  return *this;
}

Writer& Writer::Raw(ByteView b) {
  out_.insert(out_.end(), b.begin(), b.end());
  return *this;
}

Writer& Writer::Bytes(ByteView b) {
  U32(static_cast<uint32_t>(b.size()));
  return Raw(b);
}

Writer& Writer::Str(std::string_view s) { return Bytes(AsBytes(s)); }

Writer& Writer::StrList(const std::vector<std::string>& items) {
  U32(static_cast<uint32_t>(items.size()));
  for (const auto& s : items) Str(s);
  return *this;
}

Status Reader::Need(size_t n, std::string_view field) const {
  if (remaining() < n) {
    return Status::Invalid(std::string(field) + ": truncated (needs " + std::to_string(n) +
                           " bytes at offset " + std::to_string(pos_) + ", " +
                           std::to_string(remaining()) + " left)");
  }
  return Status::Ok();
}

Status Reader::U8(uint8_t* out, std::string_view field) {
  RETURN_IF_ERROR(Need(1, field));
  *out = data_[pos_++];
  return Status::Ok();
}

Status Reader::U32(uint32_t* out, std::string_view field) {
  RETURN_IF_ERROR(Need(4, field));
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | data_[pos_ + i];
  pos_ += 4;
  *out = v;
  return Status::Ok();
}

Status Reader::U64(uint64_t* out, std::string_view field) {
  RETURN_IF_ERROR(Need(8, field));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | data_[pos_ + i];
  pos_ += 8;
  *out = v;
  return Status::Ok();
}

Status Reader::Bytes(consent::Bytes* out, size_t max_len, std::string_view field) {
  uint32_t len = 0;
  RETURN_IF_ERROR(U32(&len, field));
  if (len > max_len) {
    return Status::Invalid(std::string(field) + ": length " + std::to_string(len) + " exceeds " +
                           std::to_string(max_len));
  }
  RETURN_IF_ERROR(Need(len, field));
  out->assign(data_.begin() + pos_, data_.begin() + pos_ + len);
  pos_ += len;
  return Status::Ok();
}

Status Reader::Str(std::string* out, size_t max_len, std::string_view field) {
  consent::Bytes b;
  RETURN_IF_ERROR(Bytes(&b, max_len, field));
  std::string s(b.begin(), b.end());
  if (!IsValidUtf8NoNul(s)) {
    return Status::Invalid(std::string(field) + ": not valid UTF-8 or contains a NUL byte");
  }
  *out = std::move(s);
  return Status::Ok();
}

Status Reader::Count(uint32_t* out, size_t max_count, size_t min_item_bytes,
                     std::string_view field) {
  uint32_t count = 0;
  RETURN_IF_ERROR(U32(&count, field));
  if (count > max_count) {
    return Status::Invalid(std::string(field) + ": " + std::to_string(count) +
                           " items exceed the limit of " + std::to_string(max_count));
  }
  if (min_item_bytes > 0 && count > remaining() / min_item_bytes) {
    return Status::Invalid(std::string(field) + ": truncated (" + std::to_string(count) +
                           " items cannot fit in the " + std::to_string(remaining()) +
                           " bytes left)");
  }
  *out = count;
  return Status::Ok();
}

Status Reader::SortedStrList(std::vector<std::string>* out, size_t max_count, size_t max_item,
                             std::string_view field) {
  uint32_t count = 0;
  RETURN_IF_ERROR(Count(&count, max_count, 4, field));
  std::vector<std::string> items;
  items.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string item_field = std::string(field) + "[" + std::to_string(i) + "]";
    std::string s;
    RETURN_IF_ERROR(Str(&s, max_item, item_field));
    if (!items.empty()) {
      // std::string_view::compare uses char_traits<char>, which compares as unsigned char.
      std::string_view a = items.back(), b = s;
      bool less = a.compare(b) < 0;
      if (a == b) return Status::Invalid(item_field + ": duplicate of the previous item");
      if (!less) return Status::Invalid(item_field + ": not sorted ascending by bytes");
    }
    items.push_back(std::move(s));
  }
  *out = std::move(items);
  return Status::Ok();
}

Status Reader::ExpectEnd(std::string_view what) const {
  if (remaining() != 0) {
    return Status::Invalid(std::string(what) + ": " + std::to_string(remaining()) +
                           " trailing bytes after the end");
  }
  return Status::Ok();
}

}  // namespace consent
