// byte_reader.h: turns fuzz input bytes into choices (a tiny FuzzedDataProvider that
// builds with gcc too). Once the input is used up every read returns zero.
#ifndef WEFT_TESTS_FUZZ_BYTE_READER_H_
#define WEFT_TESTS_FUZZ_BYTE_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace weft::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t Bits(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | Byte();
    return v;
  }
  // Below: a value in [0, n), n > 0.
  uint64_t Below(uint64_t n) { return n <= 256 ? Byte() % n : Bits(8) % n; }
  std::string String(size_t max) {
    size_t n = Below(max + 1);
    std::string s;
    for (size_t i = 0; i < n && !empty(); ++i) s.push_back(static_cast<char>(Byte()));
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace weft::fuzz

#endif  // WEFT_TESTS_FUZZ_BYTE_READER_H_
