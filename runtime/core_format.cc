#include "runtime/core_format.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace weft {

void CoreEncoder::Str(std::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  out_.append(s.data(), s.size());
}

bool CoreDecoder::Take(void* out, size_t n, const char* what) {
  if (!ok() || left() < n) {
    if (ok()) {
      error_ = absl::StrFormat("section '%s' is truncated: %s needs %d bytes at offset %d, %d left",
                               section_, what, n, at_, left());
    }
    std::memset(out, 0, n);
    return false;
  }
  std::memcpy(out, bytes_.data() + at_, n);
  at_ += n;
  return true;
}

uint8_t CoreDecoder::U8(const char* what) {
  uint8_t v;
  Take(&v, 1, what);
  return v;
}

uint32_t CoreDecoder::U32(const char* what) {
  uint32_t v;
  Take(&v, 4, what);
  return v;
}

uint64_t CoreDecoder::U64(const char* what) {
  uint64_t v;
  Take(&v, 8, what);
  return v;
}

std::string_view CoreDecoder::Str(const char* what) {
  uint32_t n = U32(what);
  if (!ok()) return {};
  if (left() < n) {
    Fail(absl::StrFormat("section '%s' is truncated: %s of %d bytes at offset %d, %d left",
                         section_, what, n, at_, left()));
    return {};
  }
  std::string_view s = bytes_.substr(at_, n);
  at_ += n;
  return s;
}

uint32_t CoreDecoder::Count(const char* what, size_t min_bytes) {
  uint32_t n = U32(what);
  if (ok() && min_bytes > 0 && n > left() / min_bytes) {
    Fail(absl::StrFormat("section '%s': %s is %d at offset %d, but only %d bytes are left",
                         section_, what, n, at_ - 4, left()));
    return 0;
  }
  return ok() ? n : 0;
}

void CoreDecoder::Fail(std::string message) {
  if (ok()) error_ = std::move(message);
}

}  // namespace weft
