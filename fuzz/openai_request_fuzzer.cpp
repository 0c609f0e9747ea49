// Fuzzes the parsing of OpenAI-compatible request bodies (chat and completions) and the JSON
// body reader every route uses: any bytes must give a request or a clear error — never a
// crash, a hang, or unbounded recursion on deep nesting. Responses are built from whatever
// parses, so their serialisation is exercised too.
#include <cstdint>
#include <string_view>

#include "server/json_body.h"
#include "server/openai.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ward::server;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    for (auto endpoint : {openai::Endpoint::kChat, openai::Endpoint::kCompletion}) {
        auto r = openai::parse_request(endpoint, text);
        if (r.ok()) {
            ward::llm::Generation g;
            g.text = r->request.prompt.value_or("x");
            g.model = r->request.model;
            (void)dump_json(openai::response_body(*r, g, "id", 0));
        } else {
            (void)dump_json(openai::error_body(openai::error_from_status(r.status())));
        }
    }
    (void)parse_json_body(text);
    return 0;
}
