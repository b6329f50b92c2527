/* The RNN training step of the benchmark, written by hand: the "limit" column of run_rnn.
 *
 * Float32, batch 1: word ids in, the rows E[x_t] of the input matrix (the one-hot
 * product), an Elman (tanh) or LSTM layer, a softmax over V words, the mean NLL of the
 * next words; full backpropagation through time, then one SGD update of every parameter
 * (see benchmarks/impls_rnn/spec.py, which this follows line by line).
 *
 * Matrices are row-major (C order) as NumPy keeps them; BLAS is column-major, so a
 * row-major (m x n) matrix is handed to BLAS as its (n x m) transpose with ld = n.  BLAS
 * is reached through the function pointers symgraph calls (Fortran ABI), so nothing is
 * linked at build time.  Per step: sgemv for h @ W and for W @ d_z.  Over the whole
 * sequence: sgemm for the output layer, its input gradient, and the in-place weight
 * updates (beta = 1, alpha = -lr).  Compiled with -ffast-math, so that expf and tanhf
 * loops call glibc's vector versions (libmvec).
 */
#include <math.h>
#include <string.h>

typedef void (*sgemm_fn)(char *, char *, int *, int *, int *, float *, float *, int *,
                         float *, int *, float *, float *, int *);
typedef void (*sgemv_fn)(char *, int *, int *, float *, float *, int *, float *, int *,
                         float *, float *, int *);

typedef struct {
    int lstm;         /* 0: Elman, 1: LSTM (gates i, f, o, g in column blocks) */
    int V, H, T;
    float *E;         /* V x G*H (G = 1, or 4 for the LSTM) */
    float *W;         /* H x G*H */
    float *b;         /* G*H */
    float *U;         /* H x V */
    float *c;         /* V */
    float *states;    /* (T + 1) x H: h_0 = 0, then h_1..h_T */
    float *cells;     /* LSTM: (T + 1) x H, c_0 = 0 */
    float *gates;     /* LSTM: T x 4H, activated i, f, o, g */
    float *tanh_c;    /* LSTM: T x H */
    float *probs;     /* T x V: the softmax, then d loss / d logits */
    float *d_h;       /* T x H: d loss / d h_t through the output layer */
    float *d_z;       /* T x G*H: d loss / d pre-activations */
    float *carry_h;   /* H */
    float *carry_c;   /* H */
    float lr;
    sgemm_fn sgemm;
    sgemv_fn sgemv;
} rnn_t;

static int width(const rnn_t *m) { return m->lstm ? 4 * m->H : m->H; }

static float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* z (G*H) = E[x] + b + h_prev @ W */
static void pre_activation(rnn_t *m, int x, const float *h_prev, float *z)
{
    int n = width(m), H = m->H, one = 1;
    float alpha = 1.0f, beta = 1.0f;
    char no = 'N';
    const float *row = m->E + (long)x * n;
    for (int j = 0; j < n; j++)
        z[j] = row[j] + m->b[j];
    m->sgemv(&no, &n, &H, &alpha, m->W, &n, (float *)h_prev, &one, &beta, z, &one);
}

static void forward_elman(rnn_t *m, const int *x)
{
    int H = m->H;
    memset(m->states, 0, sizeof(float) * H);
    for (int t = 0; t < m->T; t++) {
        float *h = m->states + (long)(t + 1) * H;
        pre_activation(m, x[t], h - H, h);
        for (int j = 0; j < H; j++)
            h[j] = tanhf(h[j]);
    }
}

static void forward_lstm(rnn_t *m, const int *x)
{
    int H = m->H;
    memset(m->states, 0, sizeof(float) * H);
    memset(m->cells, 0, sizeof(float) * H);
    for (int t = 0; t < m->T; t++) {
        float *g = m->gates + (long)t * 4 * H, *tc = m->tanh_c + (long)t * H;
        float *h = m->states + (long)(t + 1) * H, *cell = m->cells + (long)(t + 1) * H;
        pre_activation(m, x[t], h - H, g);
        for (int j = 0; j < 3 * H; j++)
            g[j] = sigmoidf(g[j]);
        for (int j = 3 * H; j < 4 * H; j++)
            g[j] = tanhf(g[j]);
        for (int j = 0; j < H; j++) {
            cell[j] = g[H + j] * cell[j - H] + g[j] * g[3 * H + j];
            tc[j] = tanhf(cell[j]);
            h[j] = g[2 * H + j] * tc[j];
        }
    }
}

/* probs = softmax(h @ U + c) row by row, then d = (probs - onehot(y)) / T; the mean NLL. */
static float output_layer(rnn_t *m, const int *y)
{
    int V = m->V, H = m->H, T = m->T;
    float alpha = 1.0f, beta = 0.0f, inv_T = 1.0f / (float)T, loss = 0.0f;
    char no = 'N';
    m->sgemm(&no, &no, &V, &T, &H, &alpha, m->U, &V, m->states + H, &H, &beta, m->probs, &V);
    for (int t = 0; t < T; t++) {
        float *z = m->probs + (long)t * V, total = 0.0f;
        for (int j = 0; j < V; j++)
            z[j] += m->c[j];
        float top = z[0];
        for (int j = 1; j < V; j++)
            top = z[j] > top ? z[j] : top;
        for (int j = 0; j < V; j++) {
            z[j] = expf(z[j] - top);
            total += z[j];
        }
        float scale = inv_T / total;
        loss -= logf(z[y[t]] / total);
        for (int j = 0; j < V; j++)
            z[j] *= scale;
        z[y[t]] -= inv_T;
    }
    return loss * inv_T;
}

/* d_h = d @ U^T (with U not yet updated); then U -= lr h^T @ d, c -= lr colsum(d). */
static void output_backward(rnn_t *m)
{
    int V = m->V, H = m->H, T = m->T;
    float one = 1.0f, zero = 0.0f, minus_lr = -m->lr;
    char no = 'N', tr = 'T';
    m->sgemm(&tr, &no, &H, &T, &V, &one, m->U, &V, m->probs, &V, &zero, m->d_h, &H);
    m->sgemm(&no, &tr, &V, &H, &T, &minus_lr, m->probs, &V, m->states + H, &H, &one, m->U, &V);
    for (int t = 0; t < T; t++) {
        const float *d = m->probs + (long)t * V;
        for (int j = 0; j < V; j++)
            m->c[j] -= m->lr * d[j];
    }
}

/* carry_h = W @ d_z[t] (the gradient reaching h_{t-1} through the recurrence) */
static void recurrent_backward(rnn_t *m, const float *dz)
{
    int n = width(m), H = m->H, one = 1;
    float alpha = 1.0f, beta = 0.0f;
    char tr = 'T';
    m->sgemv(&tr, &n, &H, &alpha, m->W, &n, (float *)dz, &one, &beta, m->carry_h, &one);
}

static void backward_elman(rnn_t *m)
{
    int H = m->H;
    memset(m->carry_h, 0, sizeof(float) * H);
    for (int t = m->T - 1; t >= 0; t--) {
        const float *h = m->states + (long)(t + 1) * H, *dh = m->d_h + (long)t * H;
        float *dz = m->d_z + (long)t * H;
        for (int j = 0; j < H; j++)
            dz[j] = (dh[j] + m->carry_h[j]) * (1.0f - h[j] * h[j]);
        if (t > 0)
            recurrent_backward(m, dz);
    }
}

static void backward_lstm(rnn_t *m)
{
    int H = m->H;
    memset(m->carry_h, 0, sizeof(float) * H);
    memset(m->carry_c, 0, sizeof(float) * H);
    for (int t = m->T - 1; t >= 0; t--) {
        const float *g = m->gates + (long)t * 4 * H, *tc = m->tanh_c + (long)t * H;
        const float *c_prev = m->cells + (long)t * H, *dh_out = m->d_h + (long)t * H;
        float *dz = m->d_z + (long)t * 4 * H;
        for (int j = 0; j < H; j++) {
            float i = g[j], f = g[H + j], o = g[2 * H + j], gg = g[3 * H + j];
            float dh = dh_out[j] + m->carry_h[j];
            float dc = m->carry_c[j] + dh * o * (1.0f - tc[j] * tc[j]);
            dz[j] = dc * gg * i * (1.0f - i);
            dz[H + j] = dc * c_prev[j] * f * (1.0f - f);
            dz[2 * H + j] = dh * tc[j] * o * (1.0f - o);
            dz[3 * H + j] = dc * i * (1.0f - gg * gg);
            m->carry_c[j] = dc * f;
        }
        if (t > 0)
            recurrent_backward(m, dz);
    }
}

/* W -= lr h_{0..T-1}^T @ d_z; b -= lr colsum(d_z); E[x_t] -= lr d_z[t], one row at a time
 * so that repeated words add up. */
static void recurrent_update(rnn_t *m, const int *x)
{
    int n = width(m), H = m->H, T = m->T;
    float one = 1.0f, minus_lr = -m->lr;
    char no = 'N', tr = 'T';
    m->sgemm(&no, &tr, &n, &H, &T, &minus_lr, m->d_z, &n, m->states, &H, &one, m->W, &n);
    for (int t = 0; t < T; t++) {
        const float *dz = m->d_z + (long)t * n;
        float *row = m->E + (long)x[t] * n;
        for (int j = 0; j < n; j++) {
            m->b[j] -= m->lr * dz[j];
            row[j] -= m->lr * dz[j];
        }
    }
}

/* One BPTT + SGD step on the word ids x (T) with next words y (T); returns the mean NLL. */
float rnn_step(rnn_t *m, const int *x, const int *y)
{
    if (m->lstm)
        forward_lstm(m, x);
    else
        forward_elman(m, x);
    float loss = output_layer(m, y);
    output_backward(m);
    if (m->lstm)
        backward_lstm(m);
    else
        backward_elman(m);
    recurrent_update(m, x);
    return loss;
}

/* n_steps steps over consecutive sequences (rows of X and Y, n_sequences x T) from
 * sequence `first`, wrapping around; returns the last loss. */
float rnn_train(rnn_t *m, const int *X, const int *Y, int n_sequences, long first,
                long n_steps)
{
    float loss = 0.0f;
    for (long s = 0; s < n_steps; s++) {
        long k = (first + s) % n_sequences;
        loss = rnn_step(m, X + k * m->T, Y + k * m->T);
    }
    return loss;
}
