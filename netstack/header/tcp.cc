#include "netstack/header/tcp.h"

#include "netstack/header/checksum.h"
#include "netstack/header/ipv4.h"

namespace netstack::header {

namespace {
// Fills o from one option of `kind` whose body (after kind and length) is `body`.
bool apply_option(std::uint8_t kind, std::span<const std::byte> body, TcpOptions& o) {
  switch (kind) {
    case kTcpOptionMss:
      if (body.size() != 2) return false;
      o.mss = load_be16(body, 0);
      return true;
    case kTcpOptionWindowScale:
      if (body.size() != 1) return false;
      o.window_scale = load8(body, 0);
      return true;
    case kTcpOptionSackPermitted:
      if (!body.empty()) return false;
      o.sack_permitted = true;
      return true;
    case kTcpOptionTimestamps:
      if (body.size() != 8) return false;
      o.timestamps = TcpTimestamps{load_be32(body, 0), load_be32(body, 4)};
      return true;
    case kTcpOptionSack: {
      if (body.empty() || body.size() % 8 != 0 || body.size() / 8 > 4) return false;
      o.sack_block_count = static_cast<std::uint8_t>(body.size() / 8);
      for (std::size_t i = 0; i < o.sack_block_count; ++i)
        o.sack_blocks[i] = SackBlock{load_be32(body, i * 8), load_be32(body, i * 8 + 4)};
      return true;
    }
    default:
      return true;  // RFC 9293 3.2: unknown options are skipped by their length
  }
}
}  // namespace

std::optional<TcpOptions> parse_tcp_options(std::span<const std::byte> opts) {
  TcpOptions o;
  std::size_t i = 0;
  while (i < opts.size()) {
    const std::uint8_t kind = load8(opts, i);
    if (kind == kTcpOptionEnd) break;
    if (kind == kTcpOptionNop) {
      ++i;
      continue;
    }
    if (!fits(opts.size(), i, 2)) return std::nullopt;
    const std::size_t len = load8(opts, i + 1);
    if (len < 2 || !fits(opts.size(), i, len)) return std::nullopt;
    if (!apply_option(kind, opts.subspan(i + 2, len - 2), o)) return std::nullopt;
    i += len;
  }
  return o;
}

std::size_t tcp_options_size(const TcpOptions& o) {
  std::size_t n = 0;
  if (o.mss) n += 4;
  if (o.window_scale) n += 3;
  if (o.sack_permitted) n += 2;
  if (o.timestamps) n += 10;
  if (o.sack_block_count > 0) n += 2 + 8u * o.sack_block_count;
  return (n + 3) / 4 * 4;
}

void emit_tcp_options(const TcpOptions& o, std::span<std::byte> out) {
  std::size_t i = 0;
  auto put8 = [&](std::uint8_t v) { store8(out, i++, v); };
  if (o.mss) {
    put8(kTcpOptionMss), put8(4);
    store_be16(out, i, *o.mss), i += 2;
  }
  if (o.window_scale) put8(kTcpOptionWindowScale), put8(3), put8(*o.window_scale);
  if (o.sack_permitted) put8(kTcpOptionSackPermitted), put8(2);
  if (o.timestamps) {
    put8(kTcpOptionTimestamps), put8(10);
    store_be32(out, i, o.timestamps->tsval), i += 4;
    store_be32(out, i, o.timestamps->tsecr), i += 4;
  }
  if (o.sack_block_count > 0) {
    put8(kTcpOptionSack), put8(static_cast<std::uint8_t>(2 + 8 * o.sack_block_count));
    for (std::size_t b = 0; b < o.sack_block_count; ++b) {
      store_be32(out, i, o.sack_blocks[b].left), i += 4;
      store_be32(out, i, o.sack_blocks[b].right), i += 4;
    }
  }
  const std::size_t padded = tcp_options_size(o);
  while (i < padded) put8(kTcpOptionEnd);
}

std::optional<TcpView> TcpView::parse(std::span<const std::byte> bytes) {
  if (bytes.size() < kMinSize) return std::nullopt;
  const std::size_t off = static_cast<std::size_t>(load8(bytes, 12) >> 4) * 4;
  if (off < kMinSize || off > bytes.size()) return std::nullopt;
  auto opts = parse_tcp_options(bytes.subspan(kMinSize, off - kMinSize));
  if (!opts) return std::nullopt;
  return TcpView(bytes, *opts);
}

bool TcpView::checksum_valid(Ipv4Address src, Ipv4Address dst) const {
  if (bytes_.size() > 0xffff) return false;
  const auto len = static_cast<std::uint16_t>(bytes_.size());
  return header::checksum(bytes_, pseudo_header_checksum(kProtocolTcp, src, dst, len)) == 0xffff;
}

void emit(const TcpFields& f, Ipv4Address src, Ipv4Address dst, std::span<const std::byte> payload,
          std::span<std::byte> out) {
  const auto len = static_cast<std::uint16_t>(header_size(f) + payload.size());
  emit(f, pseudo_header_checksum(kProtocolTcp, src, dst, len), payload, out);
}

void emit(const TcpFields& f, std::uint16_t pseudo, std::span<const std::byte> payload, std::span<std::byte> out) {
  const std::size_t hlen = header_size(f);
  store_be16(out, 0, f.src_port);
  store_be16(out, 2, f.dst_port);
  store_be32(out, 4, f.seq_number);
  store_be32(out, 8, f.ack_number);
  store8(out, 12, static_cast<std::uint8_t>((hlen / 4) << 4));
  store8(out, 13, f.flags);
  store_be16(out, 14, f.window);
  store_be16(out, 16, 0);
  store_be16(out, 18, f.urgent_pointer);
  emit_tcp_options(f.options, out.subspan(TcpView::kMinSize, hlen - TcpView::kMinSize));
  std::uint16_t sum = checksum(out.first(hlen), pseudo);
  sum = checksum(payload, sum);
  store_be16(out, 16, finish(sum));
}

}  // namespace netstack::header
