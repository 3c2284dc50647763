// echo_server.h: an example TCP echo server on green threads.
//
// Listen binds 127.0.0.1:port (0: any free port); Serve accepts connections and
// echoes each on its own green thread until Shutdown; it returns the number of
// connections served. Everything blocks only the green threads, through threads/io.h.
#ifndef WEFT_THREADS_EXAMPLES_ECHO_SERVER_H_
#define WEFT_THREADS_EXAMPLES_ECHO_SERVER_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"

namespace weft::threads {

class EchoServer {
 public:
  EchoServer() = default;
  ~EchoServer();
  absl::Status Listen(uint16_t port);
  uint16_t port() const { return port_; }
  int64_t Serve();  // from a green thread
  void Shutdown();  // from a green thread

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_EXAMPLES_ECHO_SERVER_H_
