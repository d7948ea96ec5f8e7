// The filter table: a JSON rule file turned into an immutable Table. Loading may allocate and
// throw (it runs before the program's main, or in the `sockshim` command); matching never does,
// because the shim calls it from inside wrapped calls.
#pragma once

#include <sys/socket.h>

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "bpfvm/loss_filter.h"
#include "filters/call_type.h"
#include "filters/fixed_string.h"
#include "filters/table_image.h"

namespace filters {

// An IPv4 or IPv6 address in network byte order (IPv4 in bytes[0..3]).
struct Address {
  int family = -1;                      // AF_INET, AF_INET6; -1: unknown
  std::array<std::uint8_t, 16> bytes{};
};

// "10.0.0.0/8", "::1/128", "127.0.0.1" (a full-length prefix). An IPv4 CIDR also matches
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d), which is what a dual-stack socket reports.
struct Cidr {
  int family = AF_INET;
  std::array<std::uint8_t, 16> bytes{};
  int prefix = 0;                       // bits
  bool contains(const Address& a) const noexcept;
};

// Which end made the connection: client = connected with connect(), server = accepted.
enum class Role : std::int8_t { kUnknown = -1, kClient = 0, kServer = 1 };

// What the shim knows about the call it is deciding on: plain values, -1 / null when unknown.
// Filling the address and path facts costs system calls, so the shim fills them only when the
// table needs them (Table::needs()).
struct SocketFacts {
  int family = -1;        // AF_*
  int type = -1;          // SOCK_* without SOCK_NONBLOCK/SOCK_CLOEXEC
  int protocol = -1;      // as SO_PROTOCOL reports it (TCP is 6)
  int service_port = -1;  // the peer's port on a socket that connects or sends to an address,
                          // the local port on a bound, listening or accepted socket
  int local_port = -1;
  int peer_port = -1;
  Address local{}, peer{};
  const char* path = nullptr;   // unix socket: the path connected or sent to, else the bound
                                // one; an abstract name is written with a leading '@'
  Role role = Role::kUnknown;
  int level = -1, option = -1;  // getsockopt/setsockopt
  const char* host = nullptr;   // getaddrinfo's node
};

struct PortRange {
  std::uint16_t first = 0, last = 65535;   // inclusive
  bool contains(int port) const noexcept { return port >= first && port <= last; }
};

// Sets the bits of every port in `port` in a bitmap of image::kPortWords words, ranges included:
// whole 64-bit words at a time, so single ports never cost a pass over all 65 536 ports. The
// table's port bitmaps are made with it (table_build.cc), and the shim's union of them.
inline void add_ports(std::uint64_t* words, const PortRange& port) noexcept {
  if (port.first > port.last) return;
  const std::size_t first = port.first, last = port.last;
  for (std::size_t w = first / 64; w <= last / 64; ++w) {
    const std::size_t lo = w == first / 64 ? first % 64 : 0;
    const std::size_t hi = w == last / 64 ? last % 64 : 63;
    const std::uint64_t upto_hi = hi == 63 ? ~std::uint64_t{0} : (std::uint64_t{1} << (hi + 1)) - 1;
    words[w] |= upto_hi & ~((std::uint64_t{1} << lo) - 1);
  }
}

// Limits the loader enforces that are also sizes of the types below (docs/filters.md, "Limits").
inline constexpr std::size_t kMaxRuleName = 63;    // bytes of UTF-8: the stats segment keeps 63 and a NUL
inline constexpr std::size_t kMaxGlob = 255;       // bytes of a path, argv0 or host glob

using Glob = FixedString<kMaxGlob>;

// `rate`: at most this many bytes a second (what SO_MAX_PACING_RATE takes as a 32-bit value on
// every kernel), written in at most kMaxRateText bytes.
inline constexpr std::uint64_t kMaxRate = 0xffffffffu;
inline constexpr std::size_t kMaxRateText = 31;

// A rate as a rule file writes it: a number (decimals allowed) and a unit, B/s, KiB/s, MiB/s,
// kbit/s or mbit/s ("1MiB/s", "512 KiB/s", "2.5mbit/s"), in whole bytes a second (rounded). On a
// malformed text, zero or more than kMaxRate: nullopt with the reason in *why.
std::optional<std::uint64_t> parse_rate(std::string_view text, std::string* why = nullptr);

// Shell-style glob: '*' any run of characters, '?' one character, '[a-z]' / '[!a-z]' a class,
// '\\' quotes the next one. No allocation, no locale; '/' is an ordinary character.
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

// Absent keys match everything; a present key never matches an unknown fact.
struct Match {
  std::optional<int> family, type, protocol;
  std::optional<PortRange> port, local_port, peer_port;
  std::optional<Cidr> peer, local;
  std::optional<Glob> path, argv0, host;
  std::optional<Role> role;
  std::optional<int> level, option;               // getsockopt/setsockopt
  // Everything but argv0, which is the process's and is decided once (Table::select_program).
  bool matches(const SocketFacts& f) const noexcept;
};

// Whose counters nth/after/times count: the rule's, shared by all threads and processes of
// the run (default), or each socket's own.
enum class Count : std::uint8_t { kRun, kSocket };

// One matching call as the shim sees it, for the triggers.
struct Hit {
  std::uint64_t n = 1;              // 1-based number of this hit, in the rule's counting scope
  std::uint64_t elapsed_ms = 0;     // since the run started
  std::uint64_t socket_bytes = 0;   // bytes this socket moved before this call: sent for a send,
                                    // received for a recv, both for any other call type
  std::int64_t connected_ms = -1;   // since this socket connected or was accepted; -1: not
  // The rule's run-wide hit number, for the probability draw (0: use n). With Count::kSocket, n
  // restarts at 1 on every socket, and drawing on n would give every socket the same faults.
  std::uint64_t draw_n = 0;
};

// When a matched rule acts. The caller counts hits and enforces `times` with its counters
// (they live in the shared stats segment, or per socket with Count::kSocket).
struct When {
  double probability = 1.0;         // 0..1, drawn from the seed: chance(seed, rule, n)
  std::uint64_t nth = 0;            // after `after` hits, every nth (0 or 1: every one)
  std::uint64_t after = 0;          // the first `after` hits never act
  std::uint64_t times = 0;          // act at most this many times; 0: no limit
  std::optional<std::uint64_t> from_ms, until_ms;       // window since the run started: [from, until)
  std::optional<std::uint64_t> after_bytes;             // socket_bytes >= after_bytes
  std::optional<std::uint64_t> after_connected_ms;      // connected_ms >= this
  Count count = Count::kRun;
  // Everything but `times`. Pure: the same arguments give the same answer. In this order:
  // hits 1..after never act; then only every nth, counting from after+1 (after+nth,
  // after+2nth, ...); then [from_ms, until_ms), after_bytes and after_connected_ms; last the
  // probability, chance(seed, rule, draw_n ? draw_n : n) < probability.
  bool selects(const Hit& h, std::uint64_t seed, std::uint32_t rule) const noexcept;
  bool needs_socket_bytes() const noexcept { return after_bytes.has_value(); }
  bool needs_connect_time() const noexcept { return after_connected_ms.has_value(); }
};

// A number in [0, 1) that depends only on its arguments (a keyed 64-bit mix), so the same seed
// gives the same faults run after run. random64 is the same mix for other seeded choices
// (jitter, which bits to corrupt); `what` separates their streams.
double chance(std::uint64_t seed, std::uint32_t rule, std::uint64_t n) noexcept;
std::uint64_t random64(std::uint64_t seed, std::uint32_t rule, std::uint64_t n, std::uint32_t what) noexcept;
// The streams `what` names. chance() is random64(..., kDrawProbability) scaled to [0, 1); the
// jitter of hit n is random64(..., kDrawJitter) % (jitter_ms + 1); bit i of a corruption is
// random64(..., kDrawCorrupt + i) % (8 * length).
inline constexpr std::uint32_t kDrawProbability = 0, kDrawJitter = 1, kDrawCorrupt = 2;

// The socket filter of an inbound_loss action into `out` (at least
// bpfvm::kMaxComposedLossFilter instructions): bpfvm's loss filter, behind the rule's `filter`
// when it has one. Returns its length. No allocation: the shim calls it inside wrapped calls.
struct Action;
std::size_t loss_program(const Action& a, std::span<bpfvm::Instruction> out) noexcept;

// Compiles a rule's `filter` (a tcpdump expression) into a socket filter's match program
// (bpfvm::compile_socket_match does it). libpcap stays out of filters/ and of the preload
// object: `sockshim run` and `check` register a compiler before loading, and without one a rule
// with a `filter` is refused. On failure: false, with the reason in `error`.
using ExpressionCompiler = bool (*)(std::string_view expression, std::vector<bpfvm::Instruction>& out,
                                    std::string& error);
void set_expression_compiler(ExpressionCompiler compiler) noexcept;

// Before-actions (`do`): socktest's Filter. delay_ms/jitter_ms may stand alone (kind kNone) or
// precede any other action.
enum class ActionKind : std::uint8_t {
  kNone,
  kFail,       // err (errno) / eai on getaddrinfo; the real call is skipped
  kHang,       // block hang_ms, then fail with err (ETIMEDOUT unless given); real call skipped
  kShort,      // send/recv: the real transfer moves at most `count` bytes
  kReset,      // abortive close (SO_LINGER 0) so the peer sees RST; the call fails ECONNRESET
  kEagain,     // fail EAGAIN without calling
  kEintr,      // fail EINTR without calling
  kDrop,       // datagram send: report success, send nothing
  kDuplicate,  // datagram send: send twice, report once
  kCorrupt,    // send: flip `count` bits (placed by the seed) in a copy of the bytes sent
  kInboundLoss,  // socket/bind/connect/accept on an IP socket: attach a socket filter (the real
                 // call still runs) that drops `loss` of the packets arriving on the socket
  kRate,       // socket/bind/connect/accept on a TCP socket: `rate` bytes a second at most, sent
               // (SO_MAX_PACING_RATE) and received (recv held back by the shim)
};

struct Action {
  ActionKind kind = ActionKind::kNone;
  int err = 0;                  // kFail, kHang: the errno the program sees
  int eai = 0;                  // kFail on getaddrinfo: the EAI_* code (EAI_SYSTEM with err)
  std::uint32_t delay_ms = 0;   // sleep before the call (or before the action)
  std::uint32_t jitter_ms = 0;  // plus a seeded 0..jitter_ms
  std::uint32_t hang_ms = 0;
  std::uint64_t count = 0;      // kShort: bytes per call; kCorrupt: bits to flip
  double loss = 0;              // kInboundLoss: the drop probability, in (0, 1]
  // kInboundLoss: bpfvm::loss_threshold(loss), computed once by the loader so the shim only
  // emits bpfvm::build_loss_filter(loss_threshold), the shape the loader validated.
  std::uint32_t loss_threshold = 0;
  // kInboundLoss with a `filter`: the tcpdump expression as `sockshim run`/`check` compiled and
  // relocated it, filter_len instructions (0: the loss applies to every packet). Carried in the
  // table, so the preload object never meets libpcap.
  std::uint16_t filter_len = 0;
  std::array<bpfvm::Instruction, bpfvm::kMaxMatchInsns> filter{};
  FixedString<kMaxGlob> filter_text{};   // the expression as written, for `sockshim check`
  std::uint32_t rate = 0;       // kRate: bytes a second, 1..kMaxRate
  FixedString<kMaxRateText> rate_text{};  // kRate: as written ("1MiB/s"), for `sockshim check`
  bool acts() const noexcept { return kind != ActionKind::kNone || delay_ms || jitter_ms; }
  // The real call does not run (the action answers it), so no `then` can follow.
  bool skips_call() const noexcept {
    return kind == ActionKind::kFail || kind == ActionKind::kHang || kind == ActionKind::kReset ||
           kind == ActionKind::kEagain || kind == ActionKind::kEintr || kind == ActionKind::kDrop;
  }
};

// After-actions (`then`): socktest's AfterFilter, run after the real call.
enum class AfterKind : std::uint8_t {
  kNone,
  kFail,       // the call happened; the program is told it failed with err
  kSoError,    // connect: getsockopt(SO_ERROR) reports err (a connect that completed at once fails)
  kTruncate,   // recv: the program sees at most `count` of the bytes received (the rest is lost)
  kCorrupt,    // recv: flip `count` bits of the bytes received
};

struct After {
  AfterKind kind = AfterKind::kNone;
  int err = 0;
  std::uint64_t count = 0;
};

// Where a rule was written, for messages.
struct Position { int line = 0, col = 0; };

struct Rule {
  FixedString<kMaxRuleName> name;   // unique in the table
  std::uint32_t on = 0;    // bit (1u << CallType) per call type
  Match match;
  When when;
  Action action;           // `do`
  After then;              // `then`
  bool enabled = true;     // "enabled": false starts switched off (sockshim ctl turns it on)
  Position pos;
  bool on_call(CallType t) const noexcept { return (on >> static_cast<unsigned>(t)) & 1u; }
};
// Copied as bytes into a compiled table (filters/table_image.h) and used from there in place.
static_assert(std::is_trivially_copyable_v<Rule>);

// Facts the shim must gather for matching, because some rule's match names them.
enum Need : std::uint32_t {
  kNeedAddresses = 1u << 0,   // peer/local CIDR, local_port, peer_port
  kNeedPath = 1u << 1,        // unix path
  kNeedRole = 1u << 2,
  kNeedHost = 1u << 3,
  kNeedSocketBytes = 1u << 4, // when.after_bytes: Hit::socket_bytes
  kNeedConnectTime = 1u << 5, // when.after_connected_ms: Hit::connected_ms
};

// The Need bits of one rule's match and when.
std::uint32_t needs_of(const Rule& r) noexcept;

// Limits on a rule file (docs/filters.md, "Limits"): past any of them the file is refused with a
// LoadError, so a hostile or broken file costs bounded memory and time linear in its size.
inline constexpr std::size_t kMaxFileBytes = 1024 * 1024;  // text size, 1 MiB
inline constexpr std::size_t kMaxDepth = 32;       // nested arrays and objects, the top level's included
inline constexpr std::size_t kMaxRules = 1024;     // the stats segment has one slot per rule

// A compiled image a Table built and owns, shared by the table's copies: one malloc'd block with
// a reference count in front of the bytes. Not a shared_ptr: the preload object, which only views
// images (it never owns one), then needs nothing of libstdc++ for the tables it copies and
// destroys (table.cc defines these; allocate() is the loader's, table_build.cc).
class ImageRef {
 public:
  ImageRef() noexcept = default;
  // Zeroed, but for [fill_from, fill_from + fill_size), which the caller fills at once (the rules:
  // zeroing 2 MB for 1 000 rules only to copy over them was a tenth of loading); aligned for
  // every part of an image.
  static ImageRef allocate(std::size_t size, std::size_t fill_from = 0, std::size_t fill_size = 0);
  ImageRef(const ImageRef& o) noexcept;
  ImageRef(ImageRef&& o) noexcept : block_(o.block_) { o.block_ = nullptr; }
  ImageRef& operator=(ImageRef o) noexcept {
    std::swap(block_, o.block_);
    return *this;
  }
  ~ImageRef();
  std::byte* data() const noexcept;

 private:
  void* block_ = nullptr;
};

// The rule table: an immutable compiled image (filters/table_image.h) plus, per process, the
// rules its program name leaves out. Copies share the image.
class Table {
 public:
  Table();   // no rules
  explicit Table(std::uint64_t seed, std::vector<Rule> rules);

  // A table over an image that image() of this same build made (e.g. the copy a stats segment
  // carries): nothing is parsed or copied, and the bytes must outlive the table and every copy.
  // Offsets and indices are checked, so damaged bytes are refused rather than read out of bounds;
  // nullopt with the reason (a static string) in *why then. Neither allocates nor throws: the
  // preload object views the run's image with it (table_view.cc).
  static std::optional<Table> view(const void* bytes, std::size_t size, const char** why = nullptr) noexcept;
  // The compiled image, to copy elsewhere and view() there.
  std::span<const std::byte> image() const noexcept { return {base_, header_.size}; }
  // Upper bound of image().size() for a table of n rules.
  static constexpr std::size_t max_image_size(std::size_t n) noexcept {
    const std::size_t lists_per_type = 2 + 2 * image::kFamilySlots;
    return sizeof(image::Header) + kCallTypeCount * sizeof(image::TypeIndex) + 2 * alignof(Rule) + n * sizeof(Rule) +
           kCallTypeCount * image::kPortWords * sizeof(std::uint64_t) +
           n * kCallTypeCount * lists_per_type * sizeof(std::uint16_t) + 64;
  }

  std::uint64_t seed() const noexcept { return header_.seed; }
  std::span<const Rule> rules() const noexcept { return {rules_, header_.rule_count}; }
  bool has_rules_for(CallType t) const noexcept { return has_rules_[idx(t)]; }
  // Need bits for the rules on t.
  std::uint32_t needs(CallType t) const noexcept { return needs_[idx(t)]; }
  // Leaves out of matching every rule whose argv0 glob does not match this program (rule
  // indices do not change). Called once by the shim at start-up, before any matching.
  void select_program(std::string_view argv0) noexcept;

  // Index (into rules()) of the first rule after index `after`, in file order, that is on `t`
  // and whose match accepts `f`; -1 when none. No allocation, no locks. Rules that name ports are
  // indexed by a port bitmap, so many rules that cannot match cost one bit test.
  int first_match(CallType t, const SocketFacts& f, int after = -1) const noexcept;
  // False when first_match(t, f) is -1 for every f with this family and service port, whatever
  // the socket's other facts: lets a caller skip gathering them (addresses cost system calls).
  bool may_match(CallType t, int family, int service_port) const noexcept {
    return port_may_match(t, service_port) && !candidates(t, family, service_port).empty();
  }
  // The first half of may_match, inline and without a call: false when no rule on t can match a
  // socket with this service port, whatever its family. The shim asks it on the first call of
  // each type on every socket; with port-keyed rules the answer is nearly always the port
  // bitmap's "no", one bit test.
  bool port_may_match(CallType t, int service_port) const noexcept {
    const std::size_t i = idx(t);
    if (i >= kCallTypeCount || !has_rules_[i]) return false;
    if (has_portless_[i]) return true;
    const std::uint64_t* words = ports_[i];
    const auto p = static_cast<unsigned>(service_port);
    return words && p <= 65535 && ((words[p / 64] >> (p % 64)) & 1u);
  }

 private:
  struct ViewTag {};
  explicit Table(ViewTag) noexcept {}   // for view(): everything is set there
  static std::size_t idx(CallType t) noexcept { return static_cast<std::size_t>(t); }
  std::span<const std::uint16_t> candidates(CallType t, int family, int service_port) const noexcept;
  // pool[l.first, l.first + l.count), or nothing when that is outside the pool.
  std::span<const std::uint16_t> list(const image::List& l) const noexcept {
    const image::List v = l;   // one read of bytes that may change under a view
    if (v.first > header_.pool_count || v.count > header_.pool_count - v.first) return {};
    return {pool_ + v.first, v.count};
  }
  bool excluded(std::size_t rule) const noexcept {
    return any_excluded_ && rule < kMaxRules && ((excluded_[rule / 64] >> (rule % 64)) & 1u);
  }
  // Sets has_rules_ and needs_ from the image and the rules not excluded.
  void summarize() noexcept;

  ImageRef owned_;                             // empty for a view
  const std::byte* base_ = nullptr;
  image::Header header_{};                     // a copy, checked once (filters/table_image.h)
  const image::TypeIndex* types_ = nullptr;    // in the image: checked where used
  const Rule* rules_ = nullptr;
  const std::uint16_t* pool_ = nullptr;
  // A bit per rule left out by select_program: inline, so the preload object never allocates.
  std::array<std::uint64_t, (kMaxRules + 63) / 64> excluded_{};
  bool any_excluded_ = false;
  // Per call type, from the image and checked once by summarize(): read on every call.
  std::array<bool, kCallTypeCount> has_rules_{};
  std::array<bool, kCallTypeCount> has_portless_{};
  std::array<const std::uint64_t*, kCallTypeCount> ports_{};   // the port bitmap, or null
  std::array<std::uint32_t, kCallTypeCount> needs_{};
};

// A rule file that cannot be used. what() is "FILE:LINE:COL: KEY: what is wrong", e.g.
// "rules.json:4:25: rules[0].do.fail: unknown errno name \"ECONREFUSED\" (did you mean ECONNREFUSED?)".
class LoadError : public std::runtime_error {
 public:
  LoadError(std::string file, int line, int col, std::string key, std::string message);
  const std::string& file() const noexcept { return file_; }
  int line() const noexcept { return line_; }
  int col() const noexcept { return col_; }
  const std::string& key() const noexcept { return key_; }      // "rules[0].do.fail"; "" for syntax
  const std::string& message() const noexcept { return message_; }
 private:
  std::string file_, key_, message_;
  int line_, col_;
};

inline constexpr int kPipeWaitMs = 10'000;         // how long read_rule_file waits for a pipe's writer

// What read_rule_file (and load_table_file) accept besides a regular file.
enum class FileKinds : std::uint8_t {
  kRegularOrPipe,   // also a pipe or FIFO (`sockshim run -c <(cat rules.json)`), read once
  kRegularOnly,     // for code that runs before main (the preload object): a pipe could block it
};

// Parse and validate. Unknown keys, wrong types, unknown names and out-of-range numbers are
// errors, never ignored. `file` is only used in messages. Text over kMaxFileBytes is refused.
Table load_table_text(std::string_view text, const std::string& file);
// The text of the rule file at `path`, read once. Throws LoadError with no position (line and
// column 0) when it cannot be read, is not a kind `kinds` allows (directories, devices and
// sockets never are), holds more than kMaxFileBytes, or is a pipe whose writer has not closed it
// within `wait_ms`. Never blocks longer than that: a FIFO is opened without waiting for a writer
// (one that never had a writer reads as empty), and with kRegularOnly a pipe or FIFO is refused
// before it is opened. Keep the text to load it again later (sockshim run does: a pipe cannot
// be read twice).
std::string read_rule_file(const std::string& path, FileKinds kinds = FileKinds::kRegularOrPipe,
                           int wait_ms = kPipeWaitMs);
// load_table_text(read_rule_file(path, kinds), path).
Table load_table_file(const std::string& path, FileKinds kinds = FileKinds::kRegularOrPipe);

// Human-readable listing of what was understood, one rule per line (`sockshim check`).
std::string describe(const Table& t);

}  // namespace filters
