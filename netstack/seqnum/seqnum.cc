#include "netstack/seqnum/seqnum.h"

#include <ostream>

namespace netstack::seqnum {

std::ostream& operator<<(std::ostream& os, Value v) { return os << v.raw(); }

}  // namespace netstack::seqnum
