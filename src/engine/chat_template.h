// Chat templates: turning a conversation into the exact prompt text a model was trained on.
//
// Models ship a Jinja template in `tokenizer.chat_template`. Ward does not run Jinja; it
// recognises which family the template belongs to by its markers (detect_chat_template) and
// renders that family in C++ (render_chat), producing byte for byte what the real template
// renders for plain system/user/assistant messages (no tools, no images). An operator can
// override the family by name (chat_template_from_name).
//
// BOS: where the real template writes `bos_token` (Llama 2/3, Mistral, Gemma), the rendered
// text starts with the family's BOS text ("<|begin_of_text|>", "<s>", "<bos>"). Callers encode
// such text with add_bos=false and parse_special=true, so the BOS comes from the text once and
// is never doubled; ChatML (Qwen) writes no BOS and those models do not add one either
// (add_bos_default() is false). In short:
//     std::string prompt = render_chat(family, messages, true);
//     bool has_bos = prompt.starts_with(chat_template_bos_text(family)) &&
//                    !chat_template_bos_text(family).empty();
//     auto ids = tokenizer.encode(prompt, tokenizer.add_bos_default() && !has_bos, true);
// parse_special=true also turns control-token texts inside message contents into control
// tokens; callers that must prevent that should strip such texts from user content first.
//
// Thread safety: free functions on values; call them from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ward::engine {

struct ChatMessage {
    std::string role;  // "system", "user", "assistant" (others are rendered by name where the
                       // family allows it)
    std::string content;
};

enum class ChatTemplateFamily {
    kLlama3,     // Llama 3.0: <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
    kLlama31,    // Llama 3.1-3.3: as 3.0 plus the system block with "Cutting Knowledge Date"
    kLlama2,     // Llama 2 chat: [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST]
    kMistral,    // Mistral 7B Instruct v0.1/v0.2, BioMistral: [INST] ... [/INST]...</s>
    kMistralV3,  // Mistral 7B Instruct v0.3: [INST] ...[/INST] ...</s>, system on last user
    kChatML,     // <|im_start|>role\n...<|im_end|>\n, no default system prompt
    kQwen2,      // ChatML with the default system prompt "You are a helpful assistant."
    kQwen25,     // ChatML with "You are Qwen, created by Alibaba Cloud. ..." by default
    kQwen3,      // ChatML with <think> handling of assistant turns
    kGemma,      // Gemma 2/3, MedGemma: <start_of_turn>user/model, system folded into user
};

// Recognises the family of a model's own tokenizer.chat_template text by its markers.
// Errors: kInvalidArgument when no family matches; the message lists the names accepted by
// chat_template_from_name so the operator can choose one.
Result<ChatTemplateFamily> detect_chat_template(std::string_view jinja_text);

// The family for an override name ("llama3", "chatml", "gemma", ...; see
// chat_template_names()). Errors: kInvalidArgument listing the accepted names.
Result<ChatTemplateFamily> chat_template_from_name(std::string_view name);

// The canonical name of a family, accepted back by chat_template_from_name.
std::string_view chat_template_name(ChatTemplateFamily family);

// All accepted names, comma-separated ("llama3, llama3.1, ...").
std::string_view chat_template_names();

// The BOS text the family's template writes at the start, or "" when it writes none.
std::string_view chat_template_bos_text(ChatTemplateFamily family);

// Renders `messages` as the family's template does. add_generation_prompt appends the opening
// of an assistant turn (the Llama 2 and Mistral templates have none: their prompt already
// ends with [/INST]). Never fails: role alternation, which the real templates enforce by
// raising an error, is not checked; a system message where a template refuses one
// (Mistral v0.1) is folded into the first user turn as "<system>\n\n<user>".
std::string render_chat(ChatTemplateFamily family, std::span<const ChatMessage> messages,
                        bool add_generation_prompt);

}  // namespace ward::engine
