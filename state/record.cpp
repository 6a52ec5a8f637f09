// A project's record read straight into values (state/store.hpp): nlohmann's
// SAX events, not a JSON tree. The record of a 5,000-sandbox overlay holds
// 5,000 endpoints, and a tree of their 30,000 strings in maps cost an apply
// ~8 ms; this reads it in a fraction. The format is the one StateDir::save
// writes (addressing as serialize.cpp writes it); unknown keys are skipped,
// so a newer topo's additions do not make an older one fail.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "state/store.hpp"

namespace topo {

namespace {

using json = nlohmann::json;

class RecordReader : public nlohmann::json_sax<json> {
public:
    ProjectRecord r;
    bool have_project = false, have_addressing = false;

    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t n) override { return number(n); }
    bool number_unsigned(number_unsigned_t n) override { return number(static_cast<int64_t>(n)); }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool string(string_t& s) override {
        const auto& at = path;
        if (at.empty()) {
            if (pending == "project") r.project = std::move(s), have_project = true;
            else if (pending == "host") r.host = std::move(s);
        } else if (at == "/manifests") {
            r.manifests.push_back(std::move(s));
        } else if (at == "/addressing/networks/*") {
            network_field(s);
        } else if (at == "/addressing/endpoints/[]") {
            endpoint_field(s);
        }
        return true;
    }
    bool start_object(std::size_t) override {
        enter(false);
        const auto& at = path;
        if (at == "/addressing") have_addressing = true;
        if (at == "/addressing/networks/*") r.addressing.networks[frames.back().name];
        if (at == "/addressing/endpoints/[]") service.clear(), network.clear(), endpoint = {};
        return true;
    }
    bool end_object() override {
        if (path == "/addressing/endpoints/[]") {
            if (service.empty() || network.empty()) throw std::runtime_error("an endpoint without its service or network");
            r.addressing.endpoints.emplace_hint(r.addressing.endpoints.end(), std::pair{service, network}, endpoint);
        }
        leave();
        return true;
    }
    bool start_array(std::size_t) override {
        enter(true);
        return true;
    }
    bool end_array() override {
        leave();
        return true;
    }
    bool key(string_t& k) override {
        pending = std::move(k);
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
        throw std::runtime_error(e.what());
    }

private:
    struct Frame {
        std::string name;  // the key that holds it, "[]" for an array's item
        bool array = false;
        size_t path_size = 0;  // of `path` outside it
    };
    std::vector<Frame> frames;     // the containers we are in; the first is the record itself
    // The container a value is in, as a path ("/addressing/endpoints/[]"),
    // a network's own object as "*"; kept as containers open and close.
    std::string path;
    std::string pending;           // the key of the value that comes next
    std::string service, network;  // of the endpoint being read
    EndpointAddressing endpoint;

    void enter(bool array) {
        bool item = !frames.empty() && frames.back().array;
        frames.push_back({frames.empty() ? "" : item ? "[]" : pending, array, path.size()});
        if (frames.size() > 1) path += "/" + (path == "/addressing/networks" ? std::string("*") : frames.back().name);
    }
    void leave() {
        path.resize(frames.back().path_size);
        frames.pop_back();
    }

    bool number(int64_t n) {
        if (path == "/addressing/ephemeral_ports") {
            if (n < 1 || n > 65535) throw std::runtime_error(fmt::format("bad ephemeral port {}", n));
            r.addressing.ephemeral_ports[pending] = static_cast<uint16_t>(n);
        }
        return true;
    }

    template <class T>
    T parsed(const std::string& text) const {
        auto v = T::parse(text);
        if (!v) throw std::runtime_error(fmt::format("bad {} value \"{}\"", pending, text));
        return *v;
    }

    void network_field(const std::string& s) {
        auto& n = r.addressing.networks[frames.back().name];
        if (pending == "subnet4") n.subnet4 = parsed<Prefix>(s);
        else if (pending == "subnet6") n.subnet6 = parsed<Prefix>(s);
        else if (pending == "gateway4") n.gateway4 = parsed<IpAddr>(s);
        else if (pending == "gateway6") n.gateway6 = parsed<IpAddr>(s);
    }

    void endpoint_field(std::string& s) {
        if (pending == "service") service = std::move(s);
        else if (pending == "network") network = std::move(s);
        else if (pending == "v4") endpoint.v4 = parsed<IpAddr>(s);
        else if (pending == "v6") endpoint.v6 = parsed<IpAddr>(s);
        else if (pending == "mac") endpoint.mac = parsed<Mac>(s);
        else if (pending == "ifname") endpoint.ifname = std::move(s);
    }
};

}  // namespace

ProjectRecord record_from_text(const std::string& text) {
    RecordReader reader;
    json::sax_parse(text, &reader);
    if (!reader.have_project) throw std::runtime_error("no project");
    if (!reader.have_addressing) throw std::runtime_error("no addressing");
    return std::move(reader.r);
}

}  // namespace topo
