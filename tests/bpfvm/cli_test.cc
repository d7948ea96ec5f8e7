// The `bpfvm` command end to end: the batch protocol exactly as issue 4 specifies it, exit
// statuses, and --help on every subcommand.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

struct Result {
  int status;
  std::string out;
};

// Runs `bpfvm ARGS` with `input` on stdin (through a temporary file) and captures stdout.
Result bpfvm(const std::string& args, const std::string& input = "") {
  const std::string in_path = "bpfvm_cli_test_input." + std::to_string(getpid());
  std::ofstream(in_path) << input;
  FILE* pipe = popen((std::string(BPFVM_EXE) + " " + args + " < " + in_path + " 2>/dev/null").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int raw = pclose(pipe);
  std::remove(in_path.c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, out};
}

}  // namespace

TEST_CASE("batch: one answer per line, bad lines answered and skipped over", "[cli]") {
  const std::string in =
      R"({"prog": [[40,0,0,12], [6,0,0,65535]], "packet": "000000000000000000000000080045"})" "\n"
      "{not json\n"
      R"({"prog": [[40,0,0,12], [21,5,0,2048], [6,0,0,0]], "packet": ""})" "\n"
      R"({"prog": [[40,0,0]], "packet": ""})" "\n"
      R"({"prog": [[32,0,0,4294963200], [22,0,0,0]], "packet": "", "ctx": {"protocol": 2048, "ifindex": 1}})" "\n";
  const Result r = bpfvm("batch", in);
  CHECK(r.status == 0);
  CHECK(r.out ==
        "{\"valid\":true,\"ret\":65535}\n"
        "{\"error\":\"not valid JSON\"}\n"
        "{\"valid\":false,\"error\":\"jump out of range\",\"index\":1}\n"
        "{\"error\":\"prog: instruction 0: expected [code, jt, jf, k]\"}\n"
        "{\"valid\":true,\"ret\":2048}\n");
}

TEST_CASE("run, validate, asm and disasm", "[cli]") {
  const std::string src = "ldh [12]\njeq #0x800, ok, drop\nok: ret #65535\ndrop: ret #0\n";
  CHECK(bpfvm("run - --packet 0000000000000000000000000800", src).out == "65535\n");
  CHECK(bpfvm("run - --packet 000000000000000000000000", src).out == "0\n");
  CHECK(bpfvm("validate -", src).status == 0);
  CHECK(bpfvm("validate -", "[[96,0,0,0],[6,0,0,0]]").status == 1);
  CHECK(bpfvm("asm -", src).out ==
        "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000800 },\n"
        "{ 0x6, 0, 0, 0x0000ffff },\n{ 0x6, 0, 0, 0x00000000 },\n");
  CHECK(bpfvm("disasm -", "[[40,0,0,12],[21,0,1,2048],[6,0,0,65535],[6,0,0,0]]").out ==
        "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #65535\n"
        "(003) ret      #0\n");
  CHECK(bpfvm("asm -", "frob\n").status == 1);
  CHECK(bpfvm("run - --packet zz", src).status == 2);
  CHECK(bpfvm("", "").status == 2);
}

TEST_CASE("seccomp mode: seccomp-build, run and validate --mode seccomp", "[cli][seccomp]") {
  const Result built = bpfvm("seccomp-build 41 42 --format json");
  CHECK(built.status == 0);
  CHECK(built.out ==
        "[[32, 0, 0, 4], [21, 1, 0, 3221225534], [6, 0, 0, 2147483648], [32, 0, 0, 0], "
        "[53, 0, 2, 1073741824], [21, 1, 0, 4294967295], [6, 0, 0, 2147483648], [53, 1, 0, 41], "
        "[6, 0, 0, 2147418112], [53, 1, 0, 43], [6, 0, 0, 2143289344], [6, 0, 0, 2147418112]]\n");
  CHECK(bpfvm("run - --mode seccomp --nr 42", built.out).out == "0x7fc00000 user_notif\n");
  CHECK(bpfvm("run - --mode seccomp --nr 43", built.out).out == "0x7fff0000 allow\n");
  CHECK(bpfvm("run - --mode seccomp --nr 42 --arch i386", built.out).out == "0x80000000 kill_process\n");
  CHECK(bpfvm("run - --mode seccomp --nr 1073741866", built.out).out == "0x80000000 kill_process\n");
  CHECK(bpfvm("run - --mode seccomp --nr -1", built.out).out == "0x7fff0000 allow\n");
  // args[1]'s high half, as an errno.
  CHECK(bpfvm("run - --mode seccomp --args 1,0x500000007", "[[32,0,0,28],[68,0,0,327680],[22,0,0,0]]").out ==
        "0x00050005 errno 5\n");
  CHECK(bpfvm("seccomp-build 41 --action errno:13 --default kill_process --arch aarch64 --format numbers").status == 0);
  CHECK(bpfvm("seccomp-build 41 --action errno:70000").status == 2);
  CHECK(bpfvm("seccomp-build 1073741865").status == 1);  // x32 bit on x86_64
  CHECK(bpfvm("validate - --mode seccomp", built.out).status == 0);
  CHECK(bpfvm("validate - --mode seccomp", "[[40,0,0,0],[6,0,0,0]]").status == 1);  // ldh
  CHECK(bpfvm("validate -", "[[40,0,0,0],[6,0,0,0]]").status == 0);
  CHECK(bpfvm("run - --mode seccomp --arch mips", built.out).status == 2);
}

TEST_CASE("every subcommand has --help", "[cli]") {
  for (const char* sub : {"", "run", "validate", "asm", "disasm", "compile", "crosscheck", "batch", "seccomp-build"}) {
    INFO(sub);
    const Result r = bpfvm(std::string(sub) + " --help");
    CHECK(r.status == 0);
    CHECK(r.out.find("Usage") != std::string::npos);
  }
}
