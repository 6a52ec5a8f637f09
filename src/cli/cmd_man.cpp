// topo __man and topo completion (cli/help_pages.hpp): man pages and
// completion scripts walked out of the CLI11 app, so that they say what
// --help says and follow it when a command or an option changes.
#include "cli/help_pages.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cli/session.hpp"

namespace topo::cli {

namespace {

namespace fs = std::filesystem;

// The commands `topo --help` lists: a command in no group is hidden.
std::vector<const CLI::App*> commands(const CLI::App& app) {
    return app.get_subcommands([](const CLI::App* c) { return !c->get_group().empty(); });
}

// A command's options (or its arguments), as --help lists them, but --help.
std::vector<const CLI::Option*> options(const CLI::App& app, bool positional) {
    return app.get_options([&](const CLI::Option* o) {
        return o != app.get_help_ptr() && o->get_positional() == positional;
    });
}

bool is_flag(const CLI::Option& o) { return o.get_expected_max() == 0; }

// The values a CLI::IsMember check allows ("TEXT:{text,json}" gives text and
// json); none for any other option.
std::vector<std::string> choices(const CLI::Option& o) {
    auto type = o.get_type_name();
    auto open = type.find(":{"), close = type.rfind('}');
    if (open == std::string::npos || close == std::string::npos || close < open) return {};
    std::vector<std::string> out;
    std::string_view list(type.data() + open + 2, close - open - 2);
    for (size_t at = 0; at <= list.size();) {
        auto comma = std::min(list.find(',', at), list.size());
        out.emplace_back(list.substr(at, comma - at));
        at = comma + 1;
    }
    return out;
}

// The arguments that name services, by the name their command gives them.
bool names_services(const CLI::Option& o) { return o.get_name() == "services" || o.get_name() == "service"; }

// Whether an argument takes every word left (SERVICE...).
bool takes_rest(const CLI::Option& o) { return o.get_expected_max() < 0 || o.get_expected_max() > 1; }

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (auto& i : items) out += (out.empty() ? "" : std::string(sep)) + i;
    return out;
}

std::string upper(std::string s) {
    for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// ---- man pages ----

// Help text as roff: backslashes printed as themselves, `code` in bold, a
// hyphen that begins a word (an option: -f, --force) or sits in code a minus
// sign, so that an option copied from the page works, and a line that begins
// with . or ' kept from being read as a request.
std::string roff(std::string_view text) {
    std::string out;
    bool code = false;
    char prev = '\n';
    for (char c : text) {
        if (prev == '\n' && (c == '.' || c == '\'')) out += "\\&";
        if (c == '\\')
            out += "\\e";
        else if (c == '`')
            out += (code = !code) ? "\\fB" : "\\fR";
        else if (c == '-' && (code || !std::isalnum(static_cast<unsigned char>(prev))))
            out += "\\-";
        else
            out += c;
        prev = c;
    }
    if (code) out += "\\fR";
    return out;
}

// A name in a roff request's argument, or bold: every hyphen a minus sign.
std::string dashes(std::string_view name) {
    std::string out;
    for (char c : name) out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
}

// What an option's value is called in the page: its choices, or the type
// name --help shows.
std::string metavar(const CLI::Option& o) {
    if (auto c = choices(o); !c.empty()) return join(c, "|");
    auto type = o.get_type_name();
    return type.substr(0, type.find(':'));
}

// An argument in a synopsis: SERVICE, [SERVICES...].
std::string argument(const CLI::Option& o) {
    auto text = "\\fI" + upper(o.get_name()) + "\\fR" + (takes_rest(o) ? "..." : "");
    return o.get_required() ? text : "[" + text + "]";
}

// One option, or one argument, of an OPTIONS section.
void option_item(std::string& page, const CLI::Option& o) {
    std::vector<std::string> names;
    if (o.get_positional()) names.push_back("\\fI" + upper(o.get_name()) + "\\fR");
    for (auto& s : o.get_snames()) names.push_back("\\fB\\-" + dashes(s) + "\\fR");
    for (auto& l : o.get_lnames()) {
        names.push_back("\\fB\\-\\-" + dashes(l) + "\\fR");
        // A flag that may take a value (--kill{SIGTERM} in --help): --kill[=SIGTERM].
        if (std::find(o.get_fnames().begin(), o.get_fnames().end(), l) != o.get_fnames().end())
            names.back() += "[=\\fI" + dashes(o.get_flag_value(l, "")) + "\\fR]";
    }
    auto head = join(names, ", ");
    if (!o.get_positional() && !is_flag(o)) head += " \\fI" + dashes(metavar(o)) + "\\fR";
    auto text = roff(o.get_description());
    if (!o.get_envname().empty()) text += fmt::format(" (also the environment variable \\fB{}\\fR)", o.get_envname());
    page += fmt::format(".TP\n{}\n{}\n", head, text);
}

std::string header(const std::string& title, const std::string& name, std::string_view summary) {
    // No date: the pages are the same bytes for the same topo (a reproducible package).
    return fmt::format(".TH {} 1 \"\" \"topo {}\" \"topo manual\"\n.SH NAME\n{} \\- {}\n", dashes(upper(title)),
                       TOPO_VERSION, dashes(name), roff(summary));
}

void global_options(std::string& page, const CLI::App& app) {
    for (auto* o : options(app, false)) option_item(page, *o);
}

std::string main_page(const CLI::App& app) {
    auto about = app.get_description();
    auto first = std::string_view(about).substr(0, about.find('\n'));
    if (first.starts_with("topo: ")) first.remove_prefix(6);
    if (first.ends_with('.')) first.remove_suffix(1);
    auto page = header("topo", "topo", first);
    page += ".SH SYNOPSIS\n\\fBtopo\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]\n";
    page += ".SH DESCRIPTION\n" + roff(about) + "\n";
    page += ".SH COMMANDS\n";
    for (auto* c : commands(app))
        page += fmt::format(".TP\n.BR topo\\-{} (1)\n{}\n", dashes(c->get_name()), roff(c->get_description()));
    page += ".SH OPTIONS\nThese go before or after the command.\n";
    global_options(page, app);
    // docs/cli.md, "Exit codes".
    page += ".SH EXIT STATUS\n"
            ".TP\n.B 0\nSuccess.\n"
            ".TP\n.B 1\nAny error: a bad manifest, a conflict, the kernel refused, a lock held, a run interrupted "
            "and rolled back, a broken promise of \\fBprobe\\fR.\n"
            ".TP\n.B 2\nFrom \\fBplan \\-\\-detailed\\-exitcode\\fR only: success, and the plan has changes.\n";
    std::vector<std::string> see;
    for (auto* c : commands(app)) see.push_back(fmt::format(".BR topo\\-{} (1)", dashes(c->get_name())));
    page += ".SH SEE ALSO\n" + join(see, ",\n") + "\n";
    return page;
}

std::string command_page(const CLI::App& app, const CLI::App& c) {
    auto page = header("topo-" + c.get_name(), "topo-" + c.get_name(), c.get_description());
    page += fmt::format(".SH SYNOPSIS\n\\fBtopo\\fR [\\fIOPTIONS\\fR] \\fB{}\\fR", dashes(c.get_name()));
    for (auto* a : options(c, true)) page += " " + argument(*a);
    page += "\n.SH DESCRIPTION\n" + roff(c.get_description()) + "\n";
    page += ".SH OPTIONS\n";
    for (auto* a : options(c, true)) option_item(page, *a);
    for (auto* o : options(c, false)) option_item(page, *o);
    page += ".SS Global options\n";
    global_options(page, app);
    page += ".SH SEE ALSO\n.BR topo (1)\n";
    return page;
}

void write_page(const fs::path& path, const std::string& page) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << page;
    out.close();
    if (!out) throw UserError(fmt::format("cannot write {}", path.string()));
}

// ---- completion ----

// Text in single quotes, for either shell.
std::string single_quoted(std::string_view text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// A command's name as part of a shell variable's.
std::string ident(std::string name) {
    for (auto& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
}

std::vector<std::string> names(const CLI::Option& o) {
    std::vector<std::string> out;
    for (auto& s : o.get_snames()) out.push_back("-" + s);
    for (auto& l : o.get_lnames()) out.push_back("--" + l);
    return out;
}

// Every name, --help's too: what completes after a "-".
std::string option_words(const CLI::App& app) {
    std::vector<std::string> all;
    for (auto* o : app.get_options())
        if (!o->get_positional())
            for (auto& n : names(*o)) all.push_back(n);
    return join(all, " ");
}

// How an argument completes: @service (the manifest's), @file, or its choices.
std::string argument_kind(const CLI::Option& a) {
    if (names_services(a)) return "@service";
    if (auto c = choices(a); !c.empty()) return join(c, " ");
    return "@file";
}

// The options that take a value, as case patterns (COMMAND:OPTION; any
// command for a global option), each printing the values it takes ("" for
// a file name).
void value_cases(std::string& out, const CLI::App& app, const std::string& command) {
    for (auto* o : options(app, false)) {
        if (is_flag(*o)) continue;
        std::vector<std::string> patterns;
        for (auto& n : names(*o)) patterns.push_back(command + ":" + n);
        out += fmt::format("    {}) echo {} ;;\n", join(patterns, "|"), single_quoted(join(choices(*o), " ")));
    }
}

// Options that name the manifest (and so which services it has), passed on
// to `topo config --services`.
constexpr std::string_view manifest_options = "-f|--file|--env-file|--profile";

std::string bash_script(const CLI::App& app) {
    std::vector<std::string> command_names;
    for (auto* c : commands(app)) command_names.push_back(c->get_name());
    std::string out = "# bash completion for topo, made by `topo completion bash`: commands, options and their\n"
                      "# values, and the services of the manifest given with -f (or found here).\n";
    out += fmt::format("_topo_commands={}\n", single_quoted(join(command_names, " ")));
    out += fmt::format("_topo_options={}\n", single_quoted(option_words(app)));
    for (auto* c : commands(app)) {
        auto id = ident(c->get_name());
        out += fmt::format("_topo_options_{}={}\n", id, single_quoted(option_words(*c)));
        // Its arguments in order; the last one, if it takes every word left, ends in "+".
        std::vector<std::string> kinds;
        for (auto* a : options(*c, true)) kinds.push_back(single_quoted(argument_kind(*a) + (takes_rest(*a) ? "+" : "")));
        out += fmt::format("_topo_arguments_{}=({})\n", id, join(kinds, " "));
    }
    out += "\n# _topo_value COMMAND OPTION: the values OPTION takes (none for a file name); fails\n"
           "# for an option that takes no value.\n"
           "_topo_value() {\n    case $1:$2 in\n";
    value_cases(out, app, "*");
    for (auto* c : commands(app)) value_cases(out, *c, c->get_name());
    out += "    *) return 1 ;;\n    esac\n}\n";
    out += R"sh(
# The services of the manifest the words name (-f, --env-file, --profile),
# or of the Compose file found here.
_topo_services() {
    "${COMP_WORDS[0]}" config "$@" --services 2>/dev/null </dev/null
}

_topo() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmd= word i n=0 manifest=() values kinds kind
    # bash splits --file=x into --file, = and x.
    if [[ $cur == = ]]; then cur=; elif [[ $prev == = ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == -- ]]; then
            # What follows is a command line of its own (exec SERVICE -- CMD).
            compopt -o default 2>/dev/null
            COMPREPLY=()
            return
        elif [[ $word == -* ]] && _topo_value "$cmd" "$word" >/dev/null; then
            [[ ${COMP_WORDS[i+1]} == = ]] && ((i++))
            ((i++))
            case $word in
)sh" + std::string(manifest_options) +
           R"sh() manifest+=("$word" "${COMP_WORDS[i]/#\~/$HOME}") ;;
            esac
        elif [[ $word != -* ]]; then
            if [[ -z $cmd ]]; then cmd=$word; else ((n++)); fi
        fi
    done
    if [[ $prev == -* ]] && values=$(_topo_value "$cmd" "$prev"); then
        if [[ -n $values ]]; then
            COMPREPLY=($(compgen -W "$values" -- "$cur"))
        else
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return
    fi
    if [[ $cur == -* ]]; then
        values=_topo_options_${cmd//[^a-zA-Z0-9]/_}
        COMPREPLY=($(compgen -W "$_topo_options ${cmd:+${!values}}" -- "$cur"))
        return
    fi
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$_topo_commands" -- "$cur"))
        return
    fi
    # The command's argument at this place, or its last one if that takes the rest.
    kinds=_topo_arguments_${cmd//[^a-zA-Z0-9]/_}[@]
    kinds=("${!kinds}")
    if ((n < ${#kinds[@]})); then
        kind=${kinds[n]}
    elif ((${#kinds[@]})) && [[ ${kinds[-1]} == *+ ]]; then
        kind=${kinds[-1]}
    else
        return
    fi
    kind=${kind%+}
    case $kind in
    @service) COMPREPLY=($(compgen -W "$(_topo_services "${manifest[@]}")" -- "$cur")) ;;
    @file)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    *) COMPREPLY=($(compgen -W "$kind" -- "$cur")) ;;
    esac
}
complete -F _topo topo
)sh";
    return out;
}

// Text in an _arguments description ([...]) or a _describe item.
std::string zsh_text(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '[' || c == ']' || c == ':' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// _arguments specs for a command's options and arguments.
std::vector<std::string> zsh_specs(const CLI::App& app) {
    std::vector<std::string> specs;
    for (auto* o : options(app, false)) {
        auto n = names(*o);
        std::string spec = fmt::format("[{}]", zsh_text(o->get_description()));
        if (!is_flag(*o)) {
            auto c = choices(*o);
            spec += ":" + zsh_text(metavar(*o)) + ":" + (c.empty() ? "_files" : "(" + join(c, " ") + ")");
        }
        // A repeatable option (-f, --profile) may come again.
        std::string repeat = takes_rest(*o) ? "*" : "";
        if (n.size() == 1)
            specs.push_back(single_quoted(repeat + n[0] + spec));
        else
            specs.push_back(fmt::format("{}{{{}}}{}", repeat.empty() ? "" : single_quoted(repeat), join(n, ","), single_quoted(spec)));
    }
    for (auto* a : options(app, true)) {
        auto kind = argument_kind(*a);
        auto action = kind == "@service" ? "_topo_services" : kind == "@file" ? "_files" : "(" + kind + ")";
        specs.push_back(single_quoted(fmt::format("{}:{}:{}", takes_rest(*a) ? "*" : "", zsh_text(a->get_name()), action)));
    }
    return specs;
}

std::string zsh_script(const CLI::App& app) {
    std::string out = "#compdef topo\n"
                      "# zsh completion for topo, made by `topo completion zsh`: commands, options and their\n"
                      "# values, and the services of the manifest given with -f (or found here).\n\n";
    out += "# The services of the manifest the words name (-f, --env-file, --profile),\n"
           "# or of the Compose file found here.\n"
           "_topo_services() {\n"
           "    local -a args services\n"
           "    local i\n"
           "    for ((i = 2; i < ${#topo_words}; i++)); do\n"
           "        case $topo_words[i] in\n"
           "        " + std::string(manifest_options) + ") args+=($topo_words[i] ${(Q)topo_words[i+1]/#\\~/$HOME}) ;;\n"
           "        esac\n"
           "    done\n"
           "    services=(${(f)\"$(${(Q)topo_words[1]} config $args --services 2>/dev/null </dev/null)\"})\n"
           "    _wanted services expl service compadd -a services\n"
           "}\n\n";
    out += "_topo() {\n"
           "    # The whole line: _arguments below leaves only the command's words.\n"
           "    local -a topo_words=(\"${words[@]}\")\n"
           "    local curcontext=$curcontext state line ret=1\n"
           "    local -a global=(\n";
    for (auto& s : zsh_specs(app)) out += "        " + s + "\n";
    out += "    )\n"
           "    _arguments -C $global ': :->command' '*:: :->argument' && return\n"
           "    case $state in\n"
           "    command)\n"
           "        local -a commands=(\n";
    for (auto* c : commands(app))
        out += "            " + single_quoted(zsh_text(c->get_name()) + ":" + std::string(c->get_description())) + "\n";
    out += "        )\n"
           "        _describe -t commands command commands && ret=0\n"
           "        ;;\n"
           "    argument)\n"
           "        case $words[1] in\n";
    for (auto* c : commands(app)) {
        out += "        " + c->get_name() + ")\n            _arguments $global";
        for (auto& s : zsh_specs(*c)) out += " \\\n                " + s;
        out += " && ret=0\n            ;;\n";
    }
    out += "        esac\n"
           "        ;;\n"
           "    esac\n"
           "    return ret\n"
           "}\n\n"
           "_topo \"$@\"\n";
    return out;
}

}  // namespace

int cmd_man(const CLI::App& app, const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw UserError(fmt::format("cannot make {}: {}", dir, ec.message()));
    write_page(fs::path(dir) / "topo.1", main_page(app));
    for (auto* c : commands(app)) write_page(fs::path(dir) / ("topo-" + c->get_name() + ".1"), command_page(app, *c));
    return 0;
}

int cmd_completion(const CLI::App& app, const std::string& shell) {
    fmt::print("{}", shell == "zsh" ? zsh_script(app) : bash_script(app));
    return 0;
}

}  // namespace topo::cli
