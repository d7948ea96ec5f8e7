// validate(): check() (check.cc) and the program kept with its decoded form.
#include "bpfvm/validator.h"

#include <utility>

namespace bpfvm {

Expected<ValidatedProgram, BpfError> validate(Program program) {
  if (auto e = check(program)) return unexpected(*e);
  return ValidatedProgram(std::move(program));
}

}  // namespace bpfvm
