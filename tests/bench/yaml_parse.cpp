// How long YAML parsing alone takes for a manifest: libyaml (the parser topo
// builds its tree from) producing events and nothing else. Built and run by
// bench.sh (not part of topo), to show how much of a plan's "load manifest"
// phase is the parser library's.
//
//   yaml_parse FILE [REPEATS]   prints "<libyaml events>" in ms (median)
#include <yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

bool libyaml_events(const std::string& text) {
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    bool ok = true;
    for (bool end = false; ok && !end;) {
        yaml_event_t e;
        ok = yaml_parser_parse(&p, &e) != 0;
        if (ok) {
            end = e.type == YAML_STREAM_END_EVENT;
            yaml_event_delete(&e);
        }
    }
    yaml_parser_delete(&p);
    return ok;
}

double median_ms(int repeats, const std::function<void()>& f) {
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
        auto start = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: yaml_parse FILE [REPEATS]\n");
        return 2;
    }
    std::ifstream in(argv[1]);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;
    bool ok = true;
    double c = median_ms(repeats, [&] { ok = libyaml_events(text) && ok; });
    if (!ok) {
        std::fprintf(stderr, "libyaml could not parse %s\n", argv[1]);
        return 1;
    }
    std::printf("%.1f\n", c);
}
