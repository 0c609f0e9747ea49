#include "engine/chat_template.h"

#include <vector>

#include <gtest/gtest.h>

#include "engine/gguf.h"
#include "engine/tokenizer.h"

namespace ward::engine {
namespace {

const std::string kData = WARD_SHARED_DATA;

std::string template_from(const std::string& vocab) {
    auto file = GgufFile::open(kData + "/tokenizers/" + vocab);
    EXPECT_TRUE(file) << file.error().to_string();
    auto text = (*file)->get_string("tokenizer.chat_template");
    EXPECT_TRUE(text) << text.error().to_string();
    return std::string(*text);
}

// Template texts as published with the models (tokenizer_config.json), abridged where noted.
const char* kLlama2Template =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set "
    "system_message = false %}{% endif %}{% for message in loop_messages %}{% if "
    "(message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation "
    "roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 "
    "and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% "
    "endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' "
    "[/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + "
    "eos_token }}{% endif %}{% endfor %}";

const char* kMistralV01Template =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ "
    "'[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
    "are supported!') }}{% endif %}{% endfor %}";

const char* kMistralV03Template =  // abridged: the tool-calling branches are left out
    "{%- if messages[0][\"role\"] == \"system\" %}\n    {%- set system_message = "
    "messages[0][\"content\"] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    "
    "{%- set loop_messages = messages %}\n{%- endif %}\n{{- bos_token }}\n{%- for message in "
    "loop_messages %}\n    {%- if message[\"role\"] == \"user\" %}\n        {%- if loop.last and "
    "system_message is defined %}\n            {{- \"[INST] \" + system_message + \"\\n\\n\" + "
    "message[\"content\"] + \"[/INST]\" }}\n        {%- else %}\n            {{- \"[INST] \" + "
    "message[\"content\"] + \"[/INST]\" }}\n        {%- endif %}\n    {%- elif message[\"role\"] "
    "== \"assistant\" %}\n        {{- \" \" + message[\"content\"] + eos_token}}\n    {%- endif "
    "%}\n{%- endfor %}\n";

const char* kGemma3Template =
    "{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- if "
    "messages[0]['content'] is string -%}\n        {%- set first_user_prefix = "
    "messages[0]['content'] + '\\n\\n' -%}\n    {%- else -%}\n        {%- set first_user_prefix = "
    "messages[0]['content'][0]['text'] + '\\n\\n' -%}\n    {%- endif -%}\n    {%- set "
    "loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = \"\" -%}\n    "
    "{%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in loop_messages -%}\n   "
    " "
    "{%- if (message['role'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n    {%- "
    "else -%}\n        {%- set role = message['role'] -%}\n    {%- endif -%}\n    {{ "
    "'<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n    {%- if "
    "message['content'] is string -%}\n        {{ message['content'] | trim }}\n    {%- endif "
    "-%}\n    {{ '<end_of_turn>\\n' }}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n    "
    "{{'<start_of_turn>model\\n'}}\n{%- endif -%}\n";

const char* kQwen25Template =  // abridged
    "{%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + "
    "messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- "
    "'<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}\n    {%- endif %}\n";

const char* kQwen2Template =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif "
    "%}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const char* kLlama31Template =  // abridged
    "{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul "
    "2024\" %}\n{%- endif %}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- "
    "\"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + "
    "\"\\n\\n\" }}\n";

const std::vector<ChatMessage> kWithSystem = {
    {"system", "You are a careful clinical assistant."},
    {"user", "  What is a normal adult resting heart rate? "},
    {"assistant", "60 to 100 beats per minute.\n"},
    {"user", "And for athletes?"},
};
const std::vector<ChatMessage> kNoSystem = {{"user", "Hello"}};

TEST(ChatTemplate, DetectsRealTemplates) {
    EXPECT_EQ(*detect_chat_template(template_from("vocab-llama3-bpe.gguf")),
              ChatTemplateFamily::kLlama3);
    EXPECT_EQ(*detect_chat_template(template_from("vocab-qwen2-bpe.gguf")),
              ChatTemplateFamily::kQwen3);
    EXPECT_EQ(*detect_chat_template(kLlama2Template), ChatTemplateFamily::kLlama2);
    EXPECT_EQ(*detect_chat_template(kMistralV01Template), ChatTemplateFamily::kMistral);
    EXPECT_EQ(*detect_chat_template(kMistralV03Template), ChatTemplateFamily::kMistralV3);
    EXPECT_EQ(*detect_chat_template(kGemma3Template), ChatTemplateFamily::kGemma);
    EXPECT_EQ(*detect_chat_template(kQwen25Template), ChatTemplateFamily::kQwen25);
    EXPECT_EQ(*detect_chat_template(kQwen2Template), ChatTemplateFamily::kQwen2);
    EXPECT_EQ(*detect_chat_template(kLlama31Template), ChatTemplateFamily::kLlama31);
    EXPECT_EQ(*detect_chat_template("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"),
              ChatTemplateFamily::kChatML);
}

TEST(ChatTemplate, UnknownTemplateAndNamesListTheAcceptedOnes) {
    auto unknown = detect_chat_template("{{ messages[0].content }}");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(unknown.error().message().find("llama3, llama3.1"), std::string::npos);
    auto bad = chat_template_from_name("vicuna");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(bad.error().message(),
              "chat template: unknown name 'vicuna'; accepted: llama3, llama3.1, llama2, mistral, "
              "mistral-v3, chatml, qwen2, qwen2.5, qwen3, gemma");
    for (auto family :
         {ChatTemplateFamily::kLlama3, ChatTemplateFamily::kLlama31, ChatTemplateFamily::kLlama2,
          ChatTemplateFamily::kMistral, ChatTemplateFamily::kMistralV3, ChatTemplateFamily::kChatML,
          ChatTemplateFamily::kQwen2, ChatTemplateFamily::kQwen25, ChatTemplateFamily::kQwen3,
          ChatTemplateFamily::kGemma}) {
        auto back = chat_template_from_name(chat_template_name(family));
        ASSERT_TRUE(back) << chat_template_name(family);
        EXPECT_EQ(*back, family);
    }
}

TEST(ChatTemplate, Llama3) {
    EXPECT_EQ(render_chat(ChatTemplateFamily::kLlama3, kWithSystem, true),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
              "You are a careful clinical assistant.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\n"
              "What is a normal adult resting heart rate?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n"
              "60 to 100 beats per minute.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nAnd for athletes?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    EXPECT_EQ(render_chat(ChatTemplateFamily::kLlama3, kNoSystem, false),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>");
}

TEST(ChatTemplate, Llama31AlwaysHasTheSystemBlock) {
    EXPECT_EQ(render_chat(ChatTemplateFamily::kLlama31, kNoSystem, true),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
              "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    std::vector<ChatMessage> m = {{"system", " Be brief. "}, {"user", "Hi"}};
    EXPECT_EQ(
        render_chat(ChatTemplateFamily::kLlama31, m, false),
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

TEST(ChatTemplate, Llama2) {
    EXPECT_EQ(render_chat(ChatTemplateFamily::kLlama2, kWithSystem, true),
              "<s>[INST] <<SYS>>\nYou are a careful clinical assistant.\n<</SYS>>\n\n"
              "  What is a normal adult resting heart rate? [/INST]"
              " 60 to 100 beats per minute. </s>"
              "<s>[INST] And for athletes? [/INST]");
    EXPECT_EQ(render_chat(ChatTemplateFamily::kLlama2, kNoSystem, true), "<s>[INST] Hello [/INST]");
}

TEST(ChatTemplate, Mistral) {
    EXPECT_EQ(render_chat(ChatTemplateFamily::kMistral, kNoSystem, true),
              "<s>[INST] Hello [/INST]");
    std::vector<ChatMessage> turns = {{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Dose?"}};
    EXPECT_EQ(render_chat(ChatTemplateFamily::kMistral, turns, true),
              "<s>[INST] Hi [/INST]Hello!</s>[INST] Dose? [/INST]");
    // v0.1 refuses a system message; we fold it into the first user turn.
    EXPECT_EQ(render_chat(ChatTemplateFamily::kMistral, kWithSystem, true),
              "<s>[INST] You are a careful clinical assistant.\n\n"
              "  What is a normal adult resting heart rate?  [/INST]"
              "60 to 100 beats per minute.\n</s>[INST] And for athletes? [/INST]");
    // v0.3: no space before [/INST], one before the answer, system on the last user turn.
    EXPECT_EQ(render_chat(ChatTemplateFamily::kMistralV3, kWithSystem, true),
              "<s>[INST]   What is a normal adult resting heart rate? [/INST]"
              " 60 to 100 beats per minute.\n</s>"
              "[INST] You are a careful clinical assistant.\n\nAnd for athletes?[/INST]");
}

TEST(ChatTemplate, ChatMLAndQwen) {
    EXPECT_EQ(render_chat(ChatTemplateFamily::kChatML, kNoSystem, true),
              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(render_chat(ChatTemplateFamily::kQwen2, kNoSystem, true),
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(render_chat(ChatTemplateFamily::kQwen25, kNoSystem, false),
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
              "assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n");
    const std::string with_system =
        "<|im_start|>system\nYou are a careful clinical assistant.<|im_end|>\n"
        "<|im_start|>user\n  What is a normal adult resting heart rate? <|im_end|>\n"
        "<|im_start|>assistant\n60 to 100 beats per minute.\n<|im_end|>\n"
        "<|im_start|>user\nAnd for athletes?<|im_end|>\n<|im_start|>assistant\n";
    EXPECT_EQ(render_chat(ChatTemplateFamily::kQwen25, kWithSystem, true), with_system);
    EXPECT_EQ(render_chat(ChatTemplateFamily::kQwen3, kWithSystem, true), with_system);
}

TEST(ChatTemplate, Qwen3ThinkBlocks) {
    // Reasoning of earlier assistant turns is dropped; the turn after the last user query keeps
    // it.
    std::vector<ChatMessage> m = {
        {"user", "Q1"},
        {"assistant", "<think>\nr1\n</think>\n\nA1"},
        {"user", "Q2"},
        {"assistant", "<think>\nr2\n</think>\n\nA2"},
    };
    EXPECT_EQ(render_chat(ChatTemplateFamily::kQwen3, m, false),
              "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
              "<|im_start|>user\nQ2<|im_end|>\n"
              "<|im_start|>assistant\n<think>\nr2\n</think>\n\nA2<|im_end|>\n");
    // A last assistant turn without reasoning gets an empty think block.
    std::vector<ChatMessage> plain = {{"user", "Q"}, {"assistant", "A"}};
    EXPECT_EQ(render_chat(ChatTemplateFamily::kQwen3, plain, false),
              "<|im_start|>user\nQ<|im_end|>\n"
              "<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n");
}

TEST(ChatTemplate, GemmaFoldsSystemIntoFirstUserTurn) {
    EXPECT_EQ(render_chat(ChatTemplateFamily::kGemma, kWithSystem, true),
              "<bos><start_of_turn>user\nYou are a careful clinical assistant.\n\n"
              "What is a normal adult resting heart rate?<end_of_turn>\n"
              "<start_of_turn>model\n60 to 100 beats per minute.<end_of_turn>\n"
              "<start_of_turn>user\nAnd for athletes?<end_of_turn>\n<start_of_turn>model\n");
    EXPECT_EQ(render_chat(ChatTemplateFamily::kGemma, kNoSystem, false),
              "<bos><start_of_turn>user\nHello<end_of_turn>\n");
}

TEST(ChatTemplate, RenderedBosIsEncodedOnce) {
    auto file = GgufFile::open(kData + "/tokenizers/vocab-llama3-bpe.gguf");
    ASSERT_TRUE(file);
    auto tokenizer = Tokenizer::from_gguf(**file);
    ASSERT_TRUE(tokenizer);
    const Tokenizer& t = **tokenizer;
    auto family = detect_chat_template(*t.chat_template());
    ASSERT_TRUE(family);
    std::string prompt = render_chat(*family, kNoSystem, true);
    ASSERT_TRUE(prompt.starts_with(chat_template_bos_text(*family)));
    EXPECT_EQ(chat_template_bos_text(*family), t.token_text(t.bos()));
    auto ids = t.encode(prompt, /*add_bos=*/false, /*parse_special=*/true);
    EXPECT_EQ(ids, (std::vector<int32_t>{128000, 128006, 882, 128007, 271, 9906, 128009, 128006,
                                         78191, 128007, 271}));
    EXPECT_EQ(t.decode(ids, /*special=*/true), prompt);
}

}  // namespace
}  // namespace ward::engine
