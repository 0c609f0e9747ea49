// The `ward` subcommands of the engine: model info, tokenize, generate, embed, perplexity,
// quantize.
// Output formats here are contracts other tools parse (docs/engine.md); change them only with
// the docs.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include "cli/cli.h"
#include "common/mapped_file.h"

#include "engine/bench.h"
#include "engine/chat_template.h"
#include "engine/encoder.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/model_maker.h"
#include "engine/quantize.h"
#include "engine/session.h"
#include "engine/tokenizer.h"

namespace ward::cli {
namespace {

using namespace ward::engine;

std::string format_count(int64_t n) {
    if (n >= 1'000'000'000) return fmt::format("{:.2f}B", n / 1e9);
    if (n >= 1'000'000) return fmt::format("{:.2f}M", n / 1e6);
    if (n >= 1'000) return fmt::format("{:.1f}K", n / 1e3);
    return std::to_string(n);
}

Status model_info(const std::string& path) {
    WARD_ASSIGN_OR_RETURN(auto model, Model::load(path));
    const HParams& hp = model->hparams();
    std::map<std::string_view, int> type_counts;
    for (const auto& t : model->file().tensors()) ++type_counts[tensor_type_name(t.type)];
    std::string types;
    for (const auto& [name, count] : type_counts) {
        types += fmt::format("{}{}={}", types.empty() ? "" : " ", name, count);
    }
    std::string family = "none";
    if (auto tmpl = model->tokenizer().chat_template()) {
        auto f = detect_chat_template(*tmpl);
        family = f ? std::string(chat_template_name(*f)) : "unrecognised";
    }
    auto name = model->file().get_string("general.name");
    fmt::print("file: {}\n", path);
    fmt::print("name: {}\n", name ? std::string(*name) : "");
    fmt::print("architecture: {}\n", arch_name(hp.arch));
    fmt::print("parameters: {} ({})\n", model->n_params(), format_count(model->n_params()));
    fmt::print("tensor types: {}\n", types);
    fmt::print("context length: {}\n", hp.n_ctx_train);
    fmt::print("layers: {}\nembedding: {}\nheads: {}\nkv heads: {}\nhead dim: {}\nffn: {}\n",
               hp.n_layer, hp.n_embd, hp.n_head, hp.n_head_kv, hp.head_dim, hp.n_ff);
    fmt::print("vocabulary: {} ({})\n", hp.n_vocab, model->tokenizer().model_type());
    if (hp.is_encoder()) {
        fmt::print("pooling: {}\n", hp.pooling == Pooling::kCls ? "cls" : "mean");
    }
    fmt::print("chat template: {}\n", family);
    fmt::print("file size: {}\n", model->file().file_size());
    fmt::print("sha256: {}\n", model->file_sha256());
    return ok_status();
}

// Shows a token's bytes in quotes with control bytes escaped (\n, \xNN).
std::string quoted_piece(std::string_view piece) {
    std::string out = "'";
    for (unsigned char c : piece) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\'' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "'";
}

struct TokenizeArgs {
    std::string model, text, file;
    bool ids = false, bos = false, special = false;
};

Status tokenize(const TokenizeArgs& a) {
    std::string text = a.text;
    if (!a.file.empty()) {
        WARD_ASSIGN_OR_RETURN(text, read_file(a.file));
    }
    WARD_ASSIGN_OR_RETURN(auto file, GgufFile::open(a.model));
    WARD_ASSIGN_OR_RETURN(auto tok, Tokenizer::from_gguf(*file));
    std::vector<int32_t> ids = tok->encode(text, a.bos, a.special);
    if (a.ids) {
        std::string line;
        for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
        fmt::print("{}\n", line);
        return ok_status();
    }
    for (int32_t id : ids) fmt::print("{:>7} {}\n", id, quoted_piece(tok->token_to_piece(id)));
    return ok_status();
}

struct GenerateArgs {
    std::string model, prompt, system, template_name;
    int n_predict = 128;
    int n_ctx = 0;
    int threads = 0;
    float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, repeat_penalty = 1.0f;
    int top_k = 40;
    uint64_t seed = 0;
    bool seed_given = false;
    bool chat = false, print_ids = false, ignore_eos = false;
    std::vector<std::string> stop;
};

Result<std::vector<int32_t>> build_prompt(const Model& model, const GenerateArgs& a) {
    const Tokenizer& tok = model.tokenizer();
    if (!a.chat) {
        if (a.prompt.empty()) {
            if (tok.bos() < 0) return invalid_argument("the model has no BOS token: give -p TEXT");
            return std::vector<int32_t>{tok.bos()};
        }
        return tok.encode(a.prompt, tok.add_bos_default(), false);
    }
    ChatTemplateFamily family;
    if (!a.template_name.empty()) {
        WARD_ASSIGN_OR_RETURN(family, chat_template_from_name(a.template_name));
    } else {
        auto text = tok.chat_template();
        if (!text) {
            return invalid_argument("the model has no chat template: name one with --template");
        }
        WARD_ASSIGN_OR_RETURN(family, detect_chat_template(*text));
    }
    std::vector<ChatMessage> messages;
    if (!a.system.empty()) messages.push_back({"system", a.system});
    messages.push_back({"user", a.prompt});
    std::string rendered = render_chat(family, messages, true);
    // Templates that write the BOS text themselves must not get a second BOS.
    bool starts_with_bos = tok.bos() >= 0 && rendered.rfind(tok.token_text(tok.bos()), 0) == 0;
    return tok.encode(rendered, tok.add_bos_default() && !starts_with_bos, true);
}

Status generate_command(const GenerateArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto model, Model::load(a.model));
    WARD_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, build_prompt(*model, a));
    SessionOptions so;
    so.n_ctx = a.n_ctx;
    so.n_threads = a.threads;
    WARD_ASSIGN_OR_RETURN(auto session, Session::create(model, so));
    GenerateOptions go;
    go.max_tokens = a.n_predict;
    go.sampling.temperature = a.temp;
    go.sampling.top_k = a.top_k;
    go.sampling.top_p = a.top_p;
    go.sampling.min_p = a.min_p;
    go.sampling.repeat_penalty = a.repeat_penalty;
    go.sampling.seed = a.seed_given ? a.seed : std::random_device{}();
    go.stop = a.stop;
    go.ignore_eos = a.ignore_eos;
    // Text streams as it becomes printable; with --ids the ids are printed once generation
    // ends, so tokens whose text was held back (part of a UTF-8 character or of a possible
    // stop string) are never skipped.
    auto on_token = [&](std::string_view piece, const Sampled&) {
        if (!a.print_ids) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        }
        return true;
    };
    WARD_ASSIGN_OR_RETURN(GenerateResult r, generate(*session, prompt, go, on_token));
    if (a.print_ids) {
        std::string line;
        for (size_t i = 0; i < r.tokens.size(); ++i) {
            line += (i ? " " : "") + std::to_string(r.tokens[i]);
        }
        std::fprintf(stdout, "%s\n", line.c_str());
    } else if (!r.text.empty() && r.text.back() != '\n') {
        std::fputc('\n', stdout);
    }
    std::fflush(stdout);
    std::fprintf(stderr,
                 "prompt: %d tokens in %.3f s (%.1f tokens/s); generated: %zu tokens in %.3f s "
                 "(%.1f tokens/s); finish: %s\n",
                 r.n_prompt, r.prompt_seconds,
                 r.prompt_seconds > 0 ? r.n_prompt / r.prompt_seconds : 0.0, r.tokens.size(),
                 r.generate_seconds,
                 r.generate_seconds > 0 ? r.tokens.size() / r.generate_seconds : 0.0,
                 std::string(finish_reason_name(r.finish)).c_str());
    return ok_status();
}

struct EmbedArgs {
    std::string model, text, file;
    int threads = 0;
    bool json = false;
};

// One text's embedding: dim and the first values, or with --json the whole vector.
Status embed_command(const EmbedArgs& a) {
    std::string text = a.text;
    if (!a.file.empty()) {
        WARD_ASSIGN_OR_RETURN(text, read_file(a.file));
    }
    WARD_ASSIGN_OR_RETURN(auto model, Model::load(a.model));
    EncoderOptions eo;
    eo.n_threads = a.threads;
    WARD_ASSIGN_OR_RETURN(auto encoder, Encoder::create(model, eo));
    const size_t n_tokens = encoder->tokenize(text).size();
    WARD_ASSIGN_OR_RETURN(std::vector<float> v, encoder->embed(text));
    if (a.json) {
        nlohmann::json j = {
            {"model", a.model}, {"tokens", n_tokens}, {"dim", v.size()}, {"embedding", v}};
        fmt::print("{}\n", j.dump());
        return ok_status();
    }
    std::string first;
    for (size_t i = 0; i < std::min<size_t>(v.size(), 8); ++i) {
        first += fmt::format("{}{:.6f}", i ? " " : "", v[i]);
    }
    fmt::print("tokens: {}\ndim: {}\nembedding: {}{}\n", n_tokens, v.size(), first,
               v.size() > 8 ? " ..." : "");
    return ok_status();
}

struct PerplexityArgs {
    std::string model, file;
    int n_ctx = 512;
    int threads = 0;
};

// The standard method: the text in chunks of n_ctx tokens, each chunk starting with BOS, the
// second half of each chunk scored.
Status perplexity_command(const PerplexityArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto model, Model::load(a.model));
    WARD_ASSIGN_OR_RETURN(std::string text, read_file(a.file));
    const Tokenizer& tok = model->tokenizer();
    std::vector<int32_t> tokens = tok.encode(text, tok.bos() >= 0, false);
    const int n_ctx = a.n_ctx;
    if (n_ctx < 8) return invalid_argument("perplexity: -c {} is too small (at least 8)", n_ctx);
    const int n_chunks = static_cast<int>(tokens.size()) / n_ctx;
    if (n_chunks < 1) {
        return invalid_argument("perplexity: the text has {} tokens, fewer than one chunk of {}",
                                tokens.size(), n_ctx);
    }
    SessionOptions so;
    so.n_ctx = n_ctx;
    so.n_threads = a.threads;
    WARD_ASSIGN_OR_RETURN(auto session, Session::create(model, so));
    const int n_vocab = model->hparams().n_vocab;
    const int first = n_ctx / 2;
    double nll = 0;
    int64_t count = 0;
    std::vector<float> logits;
    for (int c = 0; c < n_chunks; ++c) {
        std::vector<int32_t> chunk(tokens.begin() + int64_t(c) * n_ctx,
                                   tokens.begin() + int64_t(c + 1) * n_ctx);
        if (tok.bos() >= 0) chunk[0] = tok.bos();
        session->reset();
        WARD_TRY(session->eval_all(chunk, logits));
        for (int j = first; j < n_ctx - 1; ++j) {
            const float* l = logits.data() + int64_t(j) * n_vocab;
            float max = l[0];
            for (int v = 1; v < n_vocab; ++v) max = std::max(max, l[v]);
            double sum = 0;
            for (int v = 0; v < n_vocab; ++v) sum += std::exp(double(l[v] - max));
            nll += -(double(l[chunk[j + 1]] - max) - std::log(sum));
            ++count;
        }
        std::fprintf(stderr, "[%d/%d] perplexity so far: %.4f\n", c + 1, n_chunks,
                     std::exp(nll / double(count)));
    }
    std::printf("perplexity: %.4f\n", std::exp(nll / double(count)));
    return ok_status();
}

struct BenchArgs {
    std::string model;
    BenchOptions options;
    bool json = false;
};

Status bench_command(const BenchArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto model, Model::load(a.model));
    WARD_ASSIGN_OR_RETURN(BenchResult r, run_bench(model, a.options));
    if (a.json) {
        nlohmann::json j = {{"model", r.model},
                            {"threads", r.threads},
                            {"n_prompt", r.n_prompt},
                            {"n_gen", r.n_gen},
                            {"reps", r.reps},
                            {"pp_tokens_per_s", r.pp_tokens_per_s},
                            {"pp_stddev", r.pp_stddev},
                            {"tg_tokens_per_s", r.tg_tokens_per_s},
                            {"tg_stddev", r.tg_stddev},
                            {"bandwidth_gb_s", r.bandwidth_gb_s},
                            {"bytes_per_token", r.bytes_per_token},
                            {"decode_bound_tokens_per_s", r.decode_bound_tokens_per_s},
                            {"fraction_of_bound", r.fraction_of_bound}};
        if (!r.batched.empty()) {
            nlohmann::json streams = nlohmann::json::array();
            for (const auto& b : r.batched) {
                streams.push_back({{"streams", b.streams},
                                   {"tokens_per_s", b.tokens_per_s},
                                   {"stddev", b.stddev},
                                   {"speedup", b.speedup}});
            }
            j["batched_decode"] = std::move(streams);
        }
        fmt::print("{}\n", j.dump());
        return ok_status();
    }
    fmt::print("model: {}\nthreads: {}\n", r.model, r.threads);
    if (r.n_prompt > 0) {
        fmt::print("prompt ({} tokens): {:.2f} ± {:.2f} tokens/s\n", r.n_prompt, r.pp_tokens_per_s,
                   r.pp_stddev);
    }
    if (r.n_gen > 0) {
        fmt::print("decode ({} tokens): {:.2f} ± {:.2f} tokens/s\n", r.n_gen, r.tg_tokens_per_s,
                   r.tg_stddev);
    }
    for (const auto& b : r.batched) {
        fmt::print(
            "batched decode, {} streams ({} tokens each): {:.2f} ± {:.2f} tokens/s in all, "
            "{:.2f}x one stream\n",
            b.streams, r.n_gen, b.tokens_per_s, b.stddev, b.speedup);
    }
    fmt::print("memory read bandwidth: {:.1f} GB/s\n", r.bandwidth_gb_s);
    fmt::print("weights read per token: {:.3f} GB\n", r.bytes_per_token / 1e9);
    fmt::print("decode bound: {:.1f} tokens/s; achieved {:.0f}% of it\n",
               r.decode_bound_tokens_per_s, 100 * r.fraction_of_bound);
    return ok_status();
}

}  // namespace

void register_engine_commands(CLI::App& app, Context& ctx) {
    auto* model_cmd = app.add_subcommand("model", "Inspect model files");
    model_cmd->require_subcommand(1);
    auto* info = model_cmd->add_subcommand("info", "Describe a GGUF model file");
    auto info_path = std::make_shared<std::string>();
    info->add_option("FILE", *info_path, "GGUF model file")->required();
    set_action(info, ctx, [info_path] { return model_info(*info_path); });

    auto* make = model_cmd->add_subcommand("make", "Write a model with random weights");
    auto ms = std::make_shared<RandomModelSpec>();
    auto make_type = std::make_shared<std::string>("Q4_0");
    auto make_out = std::make_shared<std::string>();
    auto make_pooling = std::make_shared<std::string>("mean");
    make->add_option("--arch", ms->arch, "llama, qwen2, gemma3, or bert (an embedding encoder)")
        ->check(CLI::IsMember({"llama", "qwen2", "gemma3", "bert"}));
    make->add_option("--pooling", *make_pooling, "bert: mean or cls")
        ->check(CLI::IsMember({"mean", "cls"}));
    make->add_option("--dim", ms->n_embd, "Model width")->check(CLI::Range(1, 1 << 16));
    make->add_option("--layers", ms->n_layer, "Layers")->check(CLI::Range(1, 1024));
    make->add_option("--heads", ms->n_head, "Attention heads")->check(CLI::Range(1, 1024));
    make->add_option("--kv-heads", ms->n_head_kv, "Key/value heads")->check(CLI::Range(1, 1024));
    make->add_option("--ffn", ms->n_ff, "Feed-forward width")->check(CLI::Range(1, 1 << 18));
    make->add_option("--vocab", ms->n_vocab, "Vocabulary size")->check(CLI::Range(3, 1 << 20));
    auto* make_ctx = make->add_option("--ctx", ms->n_ctx,
                                      "Training context length (bert: positions, default 512)")
                         ->check(CLI::Range(1, 1 << 20));
    make->add_option("--type", *make_type, "Tensor type of the matrices, or Q4_K_M");
    make->add_option("--seed", ms->seed, "Random seed");
    make->add_option("OUT", *make_out, "Output GGUF")->required();
    set_action(make, ctx, [ms, make_type, make_out, make_pooling, make_ctx] {
        ms->pooling = *make_pooling == "cls" ? 2 : 1;
        if (ms->arch == "bert" && make_ctx->count() == 0) ms->n_ctx = 512;
        if (*make_type == "Q4_K_M" || *make_type == "q4_k_m") {
            if (ms->arch == "bert") throw UsageError("--type Q4_K_M is for decoder models");
            ms->q4_k_m = true;
        } else {
            auto type = parse_tensor_type(*make_type);
            if (!type) throw UsageError(type.error().message());
            ms->type = *type;
        }
        return make_random_model(*ms, *make_out);
    });

    auto* bench = app.add_subcommand("bench", "Measure prompt and decode speed against bandwidth");
    auto ba = std::make_shared<BenchArgs>();
    bench->add_option("-m,--model", ba->model, "GGUF model file")->required();
    bench->add_option("-p,--n-prompt", ba->options.n_prompt, "Prompt tokens (0: skip)")
        ->check(CLI::Range(0, 1 << 16));
    bench->add_option("-n,--n-gen", ba->options.n_gen, "Generated tokens (0: skip)")
        ->check(CLI::Range(0, 1 << 16));
    bench->add_option("-t,--threads", ba->options.n_threads, "Threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
    bench->add_option("-r,--reps", ba->options.reps, "Repetitions")->check(CLI::Range(1, 1000));
    bench
        ->add_option("-s,--streams", ba->options.streams,
                     "Batched decode: stream counts decoding together, e.g. 1,4,16")
        ->delimiter(',')
        ->check(CLI::Range(1, 256));
    bench->add_flag("--json", ba->json, "Print one JSON object");
    set_action(bench, ctx, [ba] { return bench_command(*ba); });

    auto* tok = app.add_subcommand("tokenize", "Turn text into token ids");
    auto ta = std::make_shared<TokenizeArgs>();
    tok->add_option("-m,--model", ta->model, "GGUF file (a vocabulary-only file is enough)")
        ->required();
    tok->add_option("TEXT", ta->text, "Text to tokenize");
    tok->add_option("-f,--file", ta->file, "Read the text from a file");
    tok->add_flag("--ids", ta->ids, "Print only the ids, on one line");
    tok->add_flag("--bos", ta->bos, "Prepend the BOS token");
    tok->add_flag("--special", ta->special, "Recognise special-token texts such as <|eot_id|>");
    set_action(tok, ctx, [ta] {
        if (!ta->text.empty() && !ta->file.empty())
            throw UsageError("give TEXT or -f FILE, not both");
        return tokenize(*ta);
    });

    auto* gen = app.add_subcommand("generate", "Generate text from a prompt");
    auto ga = std::make_shared<GenerateArgs>();
    gen->add_option("-m,--model", ga->model, "GGUF model file")->required();
    gen->add_option("-p,--prompt", ga->prompt, "Prompt (default: start from BOS alone)");
    gen->add_option("-n,--n-predict", ga->n_predict, "Tokens to generate")
        ->check(CLI::Range(1, 1 << 20));
    gen->add_option("--temp", ga->temp, "Temperature (0: greedy)")->check(CLI::Range(0.0, 100.0));
    gen->add_option("--top-k", ga->top_k, "Top-k (0: off)")->check(CLI::Range(0, 1 << 20));
    gen->add_option("--top-p", ga->top_p, "Top-p (1: off)")->check(CLI::Range(0.0, 1.0));
    gen->add_option("--min-p", ga->min_p, "Min-p (0: off)")->check(CLI::Range(0.0, 1.0));
    gen->add_option("--repeat-penalty", ga->repeat_penalty, "Repetition penalty (1: off)")
        ->check(CLI::Range(0.0, 10.0));
    auto* seed = gen->add_option("--seed", ga->seed, "Random seed for reproducible sampling");
    gen->add_option("-c,--ctx-size", ga->n_ctx, "Context length (0: model default, max 4096)")
        ->check(CLI::Range(0, 1 << 20));
    gen->add_option("-t,--threads", ga->threads, "Threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
    gen->add_flag("--chat", ga->chat, "Wrap the prompt in the model's chat template");
    gen->add_option("--system", ga->system, "System message (with --chat)");
    gen->add_option("--template", ga->template_name,
                    "Chat template family override: llama3, llama2, mistral, chatml, gemma");
    gen->add_option("--stop", ga->stop, "Stop string (repeatable)");
    gen->add_flag("--ids", ga->print_ids, "Print generated token ids instead of text");
    gen->add_flag("--ignore-eos", ga->ignore_eos, "Do not stop at end-of-generation tokens");
    set_action(gen, ctx, [ga, seed] {
        ga->seed_given = seed->count() > 0;
        return generate_command(*ga);
    });

    auto* emb = app.add_subcommand("embed", "Embed a text with an encoder model (bert)");
    auto ea = std::make_shared<EmbedArgs>();
    emb->add_option("-m,--model", ea->model, "GGUF encoder model file")->required();
    emb->add_option("TEXT", ea->text, "Text to embed");
    emb->add_option("-f,--file", ea->file, "Read the text from a file");
    emb->add_option("-t,--threads", ea->threads, "Threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
    emb->add_flag("--json", ea->json, "Print one JSON object with the whole vector");
    set_action(emb, ctx, [ea] {
        if (!ea->text.empty() && !ea->file.empty()) {
            throw UsageError("give TEXT or -f FILE, not both");
        }
        return embed_command(*ea);
    });

    auto* ppl = app.add_subcommand("perplexity", "Measure perplexity on a text file");
    auto pa = std::make_shared<PerplexityArgs>();
    ppl->add_option("-m,--model", pa->model, "GGUF model file")->required();
    ppl->add_option("-f,--file", pa->file, "Text file")->required();
    ppl->add_option("-c,--ctx-size", pa->n_ctx, "Chunk length in tokens")
        ->check(CLI::Range(8, 1 << 20));
    ppl->add_option("-t,--threads", pa->threads, "Threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
    set_action(ppl, ctx, [pa] { return perplexity_command(*pa); });

    auto* quant = app.add_subcommand("quantize", "Re-encode a GGUF model's weights");
    auto qa = std::make_shared<std::array<std::string, 3>>();
    quant->add_option("IN", (*qa)[0], "Input GGUF")->required();
    quant->add_option("OUT", (*qa)[1], "Output GGUF")->required();
    quant->add_option("TYPE", (*qa)[2], "F16, Q8_0, Q4_0, Q4_K, Q5_K or Q6_K")->required();
    set_action(quant, ctx, [qa] {
        auto type = parse_tensor_type((*qa)[2]);
        if (!type) throw UsageError(type.error().message());
        QuantizeStats stats;
        WARD_TRY(quantize_gguf((*qa)[0], (*qa)[1], *type, &stats));
        fmt::print(stderr, "quantized {} of {} tensors to {}; {} kept as F32, {} fell back{}\n",
                   stats.n_quantized, stats.n_tensors, tensor_type_name(*type), stats.n_f32,
                   stats.n_fallback, stats.n_fallback ? " (see the warnings above)" : "");
        return ok_status();
    });
}

}  // namespace ward::cli
