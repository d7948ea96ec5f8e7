// `sockshim run --junit FILE`: the run's verdicts as JUnit XML, the report GitHub Actions (through
// a test-report action), GitLab (artifacts:reports:junit) and Jenkins (junit step) show natively.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shim::cmd {

struct JunitRun {
  std::string name;                        // the stats segment: the test suite's name
  std::vector<std::string> command;        // CMD ARGS...
  std::vector<std::string> expect_fired;   // one test case each
  int raw_status = 0;                      // waitpid's status of CMD
  bool attached = true;                    // false: no process loaded the shim, and the run did
                                           // not allow that (--allow-unattached): a failure
  std::int64_t start_ns = 0;               // CLOCK_REALTIME when the run started
  double seconds = 0;                      // how long CMD ran
  std::string hostname;
  nlohmann::json stats;                    // report.h's to_json of the segment
  std::string summary;                     // to_text of the segment, as <system-out>
  std::string intercept;                   // how the command was reached: "preload" or "seccomp"
};

// <testsuites><testsuite name tests failures errors skipped time timestamp hostname>, with
// <properties> (seed, rules file, intercept mode, faults injected per rule), one <testcase> per --expect-fired
// rule ("rule NAME fired"), one for the exit status ("CMD exits 0"), <system-out>, <system-err>:
// every attribute and element the Ant/Jenkins JUnit schema requires.
std::string to_junit(const JunitRun& run);

}  // namespace shim::cmd
