// Reference LLM speed measurement in plain C++ against llama.cpp's C API,
// linked to the very static libraries llama-cpp-sys-2 built for ojscog (same
// source, same flags). It does exactly what `ojscog bench llm` does through
// the Rust bindings, the way llama-bench measures pp/tg: a fresh context per
// repetition, n_prompt arbitrary tokens evaluated in batches of n_batch, then
// n_gen single-token decodes; one untimed warm-up; tokens/s mean ± sd.
//
// Built and run by scripts/bench-llm.sh.
// Usage: llm-ref-bench MODEL.gguf THREADS N_PROMPT N_GEN REPS
#include "llama.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

static void quiet(ggml_log_level, const char *, void *) {}

static double now_s() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

static void mean_sd(const std::vector<double> & v, double & m, double & sd) {
    m = 0;
    sd = 0;
    if (v.empty()) return;
    for (double x : v) m += x;
    m /= v.size();
    for (double x : v) sd += (x - m) * (x - m);
    sd = std::sqrt(sd / (v.size() > 1 ? v.size() - 1 : 1));
}

int main(int argc, char ** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL.gguf THREADS N_PROMPT N_GEN REPS\n", argv[0]);
        return 2;
    }
    const char * path = argv[1];
    const int threads = atoi(argv[2]), n_prompt = atoi(argv[3]), n_gen = atoi(argv[4]), reps = atoi(argv[5]);
    const int n_batch = 512;
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(path, llama_model_default_params());
    if (!model) {
        fprintf(stderr, "cannot load %s\n", path);
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    int n_ctx = n_prompt + n_gen + 64;
    if (n_ctx < 1024) n_ctx = 1024;

    // Same token pattern as the Rust bench.
    std::vector<llama_token> tokens{llama_vocab_bos(vocab)};
    uint32_t x = 12345;
    while ((int) tokens.size() < n_prompt) {
        x = x * 1103515245u + 12345u;
        tokens.push_back((llama_token) (x % (uint32_t) n_vocab));
    }

    auto make_ctx = [&]() {
        llama_context_params p = llama_context_default_params();
        p.n_ctx = n_ctx;
        p.n_batch = n_batch;
        p.n_ubatch = n_batch;
        p.n_threads = threads;
        p.n_threads_batch = threads;
        return llama_init_from_model(model, p);
    };
    llama_batch batch = llama_batch_init(n_batch, 0, 1);
    auto add = [&](llama_token t, int pos, bool logits) {
        batch.token[batch.n_tokens] = t;
        batch.pos[batch.n_tokens] = pos;
        batch.n_seq_id[batch.n_tokens] = 1;
        batch.seq_id[batch.n_tokens][0] = 0;
        batch.logits[batch.n_tokens] = logits;
        batch.n_tokens++;
    };

    std::vector<double> pp, tg;
    for (int rep = 0; rep <= reps; rep++) {
        if (n_prompt > 0) {
            llama_context * ctx = make_ctx();
            double t = now_s();
            for (int i = 0; i < n_prompt; i += n_batch) {
                batch.n_tokens = 0;
                for (int j = i; j < n_prompt && j < i + n_batch; j++) add(tokens[j], j, j == n_prompt - 1);
                if (llama_decode(ctx, batch) != 0) return 1;
            }
            if (rep > 0) pp.push_back(n_prompt / (now_s() - t));
            llama_free(ctx);
        }
        if (n_gen > 0) {
            llama_context * ctx = make_ctx();
            double t = now_s();
            llama_token tok = llama_vocab_bos(vocab);
            for (int i = 0; i < n_gen; i++) {
                batch.n_tokens = 0;
                add(tok, i, true);
                if (llama_decode(ctx, batch) != 0) return 1;
                tok = (llama_token) (((uint32_t) i * 7919u + 1u) % (uint32_t) n_vocab);
            }
            if (rep > 0) tg.push_back(n_gen / (now_s() - t));
            llama_free(ctx);
        }
    }
    double m, sd;
    printf("| test | t/s |\n|---|---|\n");
    if (n_prompt > 0) {
        mean_sd(pp, m, sd);
        printf("| pp%d | %.2f ± %.2f |\n", n_prompt, m, sd);
    }
    if (n_gen > 0) {
        mean_sd(tg, m, sd);
        printf("| tg%d | %.2f ± %.2f |\n", n_gen, m, sd);
    }
    llama_batch_free(batch);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
