#include "engine/chat_template.h"

#include <array>
#include <utility>

namespace ward::engine {

namespace {

struct FamilyName {
    ChatTemplateFamily family;
    std::string_view name;
};

constexpr std::array<FamilyName, 10> kFamilyNames = {{
    {ChatTemplateFamily::kLlama3, "llama3"},
    {ChatTemplateFamily::kLlama31, "llama3.1"},
    {ChatTemplateFamily::kLlama2, "llama2"},
    {ChatTemplateFamily::kMistral, "mistral"},
    {ChatTemplateFamily::kMistralV3, "mistral-v3"},
    {ChatTemplateFamily::kChatML, "chatml"},
    {ChatTemplateFamily::kQwen2, "qwen2"},
    {ChatTemplateFamily::kQwen25, "qwen2.5"},
    {ChatTemplateFamily::kQwen3, "qwen3"},
    {ChatTemplateFamily::kGemma, "gemma"},
}};

constexpr std::string_view kWhitespace = " \t\n\r\v\f";

// Jinja's `trim` and Python's str.strip() (ASCII whitespace; Unicode spaces are kept).
std::string_view trim(std::string_view s) {
    size_t begin = s.find_first_not_of(kWhitespace);
    if (begin == std::string_view::npos) return {};
    size_t end = s.find_last_not_of(kWhitespace);
    return s.substr(begin, end - begin + 1);
}

std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
    if (left) {
        size_t begin = s.find_first_not_of(chars);
        s = begin == std::string_view::npos ? std::string_view() : s.substr(begin);
    }
    if (right) {
        size_t end = s.find_last_not_of(chars);
        s = end == std::string_view::npos ? std::string_view() : s.substr(0, end + 1);
    }
    return s;
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

void render_llama3(std::span<const ChatMessage> messages, bool add_generation_prompt, bool llama31,
                   std::string* out) {
    out->append("<|begin_of_text|>");
    size_t first = 0;
    if (llama31) {
        // 3.1 always opens with a system block carrying the knowledge cutoff and a date; the
        // template's default date is used (3.2's strftime_now() would put today's here).
        std::string_view system;
        if (!messages.empty() && messages[0].role == "system") {
            system = trim(messages[0].content);
            first = 1;
        }
        out->append("<|start_header_id|>system<|end_header_id|>\n\n");
        out->append("Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n");
        out->append(system);
        out->append("<|eot_id|>");
    }
    for (size_t i = first; i < messages.size(); ++i) {
        out->append("<|start_header_id|>");
        out->append(messages[i].role);
        out->append("<|end_header_id|>\n\n");
        out->append(trim(messages[i].content));
        out->append("<|eot_id|>");
    }
    if (add_generation_prompt) out->append("<|start_header_id|>assistant<|end_header_id|>\n\n");
}

void render_llama2(std::span<const ChatMessage> messages, std::string* out) {
    size_t first = 0;
    std::string_view system;
    bool has_system = !messages.empty() && messages[0].role == "system";
    if (has_system) {
        system = messages[0].content;
        first = 1;
    }
    for (size_t i = first; i < messages.size(); ++i) {
        std::string content;
        if (i == first && has_system) {
            content = "<<SYS>>\n" + std::string(system) + "\n<</SYS>>\n\n" + messages[i].content;
        } else {
            content = messages[i].content;
        }
        if (messages[i].role == "assistant") {
            out->append(" ");
            out->append(trim(content));
            out->append(" </s>");
        } else if (messages[i].role == "user") {
            out->append("<s>[INST] ");
            out->append(trim(content));
            out->append(" [/INST]");
        }
    }
}

void render_mistral(std::span<const ChatMessage> messages, bool v3, std::string* out) {
    size_t first = 0;
    std::string system;
    bool has_system = !messages.empty() && messages[0].role == "system";
    if (has_system) {
        system = messages[0].content;
        first = 1;
    }
    // v0.3 puts the system prompt on the last message when that is a user turn (and drops it
    // otherwise); for v0.1, which refuses a system message, we fold it into the first user turn.
    size_t system_turn = messages.size();
    if (has_system && v3) {
        if (messages.size() > first && messages.back().role == "user") {
            system_turn = messages.size() - 1;
        }
    } else if (has_system) {
        for (size_t i = first; i < messages.size(); ++i) {
            if (messages[i].role == "user") {
                system_turn = i;
                break;
            }
        }
    }
    out->append("<s>");
    for (size_t i = first; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        if (m.role == "assistant") {
            if (v3) out->append(" ");
            out->append(m.content);
            out->append("</s>");
            continue;
        }
        out->append("[INST] ");
        if (i == system_turn) {
            out->append(system);
            out->append("\n\n");
        }
        out->append(m.content);
        out->append(v3 ? "[/INST]" : " [/INST]");
    }
}

void render_chatml(ChatTemplateFamily family, std::span<const ChatMessage> messages,
                   bool add_generation_prompt, std::string* out) {
    const auto block = [&](std::string_view role, std::string_view content) {
        out->append("<|im_start|>");
        out->append(role);
        out->append("\n");
        out->append(content);
        out->append("<|im_end|>\n");
    };
    bool has_system = !messages.empty() && messages[0].role == "system";
    if (!has_system && family == ChatTemplateFamily::kQwen2) {
        block("system", "You are a helpful assistant.");
    } else if (!has_system && family == ChatTemplateFamily::kQwen25) {
        block("system", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
    }
    if (family != ChatTemplateFamily::kQwen3) {
        for (const ChatMessage& m : messages) block(m.role, m.content);
    } else {
        // Assistant turns after the last user turn keep their reasoning in a <think> block;
        // earlier ones are shown without it.
        size_t last_query = messages.empty() ? 0 : messages.size() - 1;
        for (size_t i = messages.size(); i-- > 0;) {
            std::string_view c = messages[i].content;
            bool tool_response =
                c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
            if (messages[i].role == "user" && !tool_response) {
                last_query = i;
                break;
            }
        }
        for (size_t i = 0; i < messages.size(); ++i) {
            const ChatMessage& m = messages[i];
            if (m.role != "assistant") {
                block(m.role, m.content);
                continue;
            }
            std::string_view content = m.content;
            std::string_view reasoning;
            size_t end_think = content.rfind("</think>");
            if (end_think != std::string_view::npos) {
                std::string_view before = content.substr(0, content.find("</think>"));
                content = strip_chars(content.substr(end_think + 8), "\n", true, false);
                before = strip_chars(before, "\n", false, true);
                size_t start_think = before.rfind("<think>");
                if (start_think != std::string_view::npos) before = before.substr(start_think + 7);
                reasoning = strip_chars(before, "\n", true, false);
            }
            out->append("<|im_start|>assistant\n");
            bool last = i + 1 == messages.size();
            if (i > last_query && (last || !reasoning.empty())) {
                out->append("<think>\n");
                out->append(strip_chars(reasoning, "\n", true, true));
                out->append("\n</think>\n\n");
                out->append(strip_chars(content, "\n", true, false));
            } else {
                out->append(content);
            }
            out->append("<|im_end|>\n");
        }
    }
    if (add_generation_prompt) out->append("<|im_start|>assistant\n");
}

void render_gemma(std::span<const ChatMessage> messages, bool add_generation_prompt,
                  std::string* out) {
    out->append("<bos>");
    size_t first = 0;
    std::string first_user_prefix;
    if (!messages.empty() && messages[0].role == "system") {
        first_user_prefix = messages[0].content + "\n\n";
        first = 1;
    }
    for (size_t i = first; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        out->append("<start_of_turn>");
        out->append(m.role == "assistant" ? std::string_view("model") : std::string_view(m.role));
        out->append("\n");
        if (i == first) out->append(first_user_prefix);
        out->append(trim(m.content));
        out->append("<end_of_turn>\n");
    }
    if (add_generation_prompt) out->append("<start_of_turn>model\n");
}

}  // namespace

std::string_view chat_template_names() {
    return "llama3, llama3.1, llama2, mistral, mistral-v3, chatml, qwen2, qwen2.5, qwen3, gemma";
}

std::string_view chat_template_name(ChatTemplateFamily family) {
    for (const FamilyName& f : kFamilyNames) {
        if (f.family == family) return f.name;
    }
    return "unknown";
}

Result<ChatTemplateFamily> chat_template_from_name(std::string_view name) {
    for (const FamilyName& f : kFamilyNames) {
        if (f.name == name) return f.family;
    }
    return invalid_argument("chat template: unknown name '{}'; accepted: {}", name,
                            chat_template_names());
}

Result<ChatTemplateFamily> detect_chat_template(std::string_view t) {
    if (contains(t, "<|start_header_id|>")) {
        return contains(t, "Cutting Knowledge Date") ? ChatTemplateFamily::kLlama31
                                                     : ChatTemplateFamily::kLlama3;
    }
    if (contains(t, "<|im_start|>")) {
        if (contains(t, "</think>")) return ChatTemplateFamily::kQwen3;
        if (contains(t, "You are Qwen, created by Alibaba Cloud"))
            return ChatTemplateFamily::kQwen25;
        if (contains(t, "You are a helpful assistant.")) return ChatTemplateFamily::kQwen2;
        return ChatTemplateFamily::kChatML;
    }
    if (contains(t, "<start_of_turn>")) return ChatTemplateFamily::kGemma;
    if (contains(t, "[INST]")) {
        if (contains(t, "<<SYS>>")) return ChatTemplateFamily::kLlama2;
        // Mistral v0.7+ has a system prompt token and tool markers we do not render.
        if (!contains(t, "[SYSTEM_PROMPT]")) {
            // v0.1/v0.2 write ' [/INST]' with a space; v0.3 glues '[/INST]' to the content.
            return contains(t, " [/INST]") ? ChatTemplateFamily::kMistral
                                           : ChatTemplateFamily::kMistralV3;
        }
    }
    return invalid_argument(
        "chat template: the model's tokenizer.chat_template is not one Ward recognises; choose "
        "one by name: {}",
        chat_template_names());
}

std::string_view chat_template_bos_text(ChatTemplateFamily family) {
    switch (family) {
        case ChatTemplateFamily::kLlama3:
        case ChatTemplateFamily::kLlama31:
            return "<|begin_of_text|>";
        case ChatTemplateFamily::kLlama2:
        case ChatTemplateFamily::kMistral:
        case ChatTemplateFamily::kMistralV3:
            return "<s>";
        case ChatTemplateFamily::kGemma:
            return "<bos>";
        case ChatTemplateFamily::kChatML:
        case ChatTemplateFamily::kQwen2:
        case ChatTemplateFamily::kQwen25:
        case ChatTemplateFamily::kQwen3:
            return "";
    }
    return "";
}

std::string render_chat(ChatTemplateFamily family, std::span<const ChatMessage> messages,
                        bool add_generation_prompt) {
    std::string out;
    switch (family) {
        case ChatTemplateFamily::kLlama3:
        case ChatTemplateFamily::kLlama31:
            render_llama3(messages, add_generation_prompt, family == ChatTemplateFamily::kLlama31,
                          &out);
            break;
        case ChatTemplateFamily::kLlama2:
            render_llama2(messages, &out);
            break;
        case ChatTemplateFamily::kMistral:
        case ChatTemplateFamily::kMistralV3:
            render_mistral(messages, family == ChatTemplateFamily::kMistralV3, &out);
            break;
        case ChatTemplateFamily::kChatML:
        case ChatTemplateFamily::kQwen2:
        case ChatTemplateFamily::kQwen25:
        case ChatTemplateFamily::kQwen3:
            render_chatml(family, messages, add_generation_prompt, &out);
            break;
        case ChatTemplateFamily::kGemma:
            render_gemma(messages, add_generation_prompt, &out);
            break;
    }
    return out;
}

}  // namespace ward::engine
