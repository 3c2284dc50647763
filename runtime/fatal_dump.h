// fatal_dump.h: the runtime's fatal hook. Private to //runtime.
//
// InstallFatalDump registers (once per process) the check.h fatal hook that writes
// the stack-scan dump of the running runtime's green threads to stderr when a
// WEFT_CHECK fails, a native stack overflows, or any other fatal error ends the
// process ([runtime.dump.fatal]). With no runtime running the hook writes nothing.
#ifndef WEFT_RUNTIME_FATAL_DUMP_H_
#define WEFT_RUNTIME_FATAL_DUMP_H_

namespace weft {

void InstallFatalDump();

}  // namespace weft

#endif  // WEFT_RUNTIME_FATAL_DUMP_H_
