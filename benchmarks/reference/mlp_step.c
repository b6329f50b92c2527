/* The MLP training step of the benchmark, written by hand: the "limit" column.
 *
 * Float32, tanh hidden layers, softmax + mean negative log-likelihood, plain SGD.
 * Matrices are row-major (C order) as NumPy keeps them; BLAS is column-major, so a
 * row-major (m x n) matrix is handed to BLAS as its (n x m) transpose with ld = n.
 * BLAS is reached through the function pointers symgraph calls (Fortran ABI: every
 * argument by pointer), so nothing is linked at build time.
 *
 * At batch 1 the step uses sgemv and an in-place sger; at larger batches sgemm, with
 * beta = 1 so that the weight update is written into W directly.
 */
#include <math.h>
#include <string.h>

typedef void (*sgemm_fn)(char *, char *, int *, int *, int *, float *, float *, int *,
                         float *, int *, float *, float *, int *);
typedef void (*sgemv_fn)(char *, int *, int *, float *, float *, int *, float *, int *,
                         float *, float *, int *);
typedef void (*sger_fn)(int *, int *, float *, float *, int *, float *, int *, float *, int *);

#define MLP_MAX_LAYERS 8

typedef struct {
    int n_layers;                      /* weight layers; sizes has n_layers + 1 entries */
    int batch;
    int sizes[MLP_MAX_LAYERS + 1];
    float *W[MLP_MAX_LAYERS];          /* sizes[l] x sizes[l+1], row-major */
    float *b[MLP_MAX_LAYERS];          /* sizes[l+1] */
    float *act[MLP_MAX_LAYERS + 1];    /* act[l]: batch x sizes[l]; act[0] unused (input) */
    float *delta[MLP_MAX_LAYERS + 1];  /* d loss / d pre-activation of layer l's output */
    float lr;
    sgemm_fn sgemm;
    sgemv_fn sgemv;
    sger_fn sger;
} mlp_t;

/* out (batch x n_out) = in (batch x n_in) @ W + b */
static void affine(mlp_t *m, int l, const float *in, float *out)
{
    int n_in = m->sizes[l], n_out = m->sizes[l + 1], batch = m->batch, one = 1;
    float alpha = 1.0f, beta = 0.0f;
    if (batch == 1) {
        char trans = 'N';
        m->sgemv(&trans, &n_out, &n_in, &alpha, m->W[l], &n_out, (float *)in, &one, &beta,
                 out, &one);
    } else {
        char no = 'N';
        m->sgemm(&no, &no, &n_out, &batch, &n_in, &alpha, m->W[l], &n_out, (float *)in, &n_in,
                 &beta, out, &n_out);
    }
    for (int r = 0; r < batch; r++) {
        float *row = out + (long)r * n_out;
        for (int j = 0; j < n_out; j++)
            row[j] += m->b[l][j];
    }
}

/* Softmax of the logits in place, then delta = (p - onehot(y)) / batch; returns mean NLL. */
static float softmax_nll(mlp_t *m, float *logits, const int *y, float *delta)
{
    int n = m->sizes[m->n_layers], batch = m->batch;
    float inv_batch = 1.0f / (float)batch, loss = 0.0f;
    for (int r = 0; r < batch; r++) {
        float *z = logits + (long)r * n, *d = delta + (long)r * n;
        float top = z[0], total = 0.0f;
        for (int j = 1; j < n; j++)
            top = z[j] > top ? z[j] : top;
        for (int j = 0; j < n; j++) {
            z[j] = expf(z[j] - top);
            total += z[j];
        }
        float inv_total = 1.0f / total;
        for (int j = 0; j < n; j++) {
            z[j] *= inv_total;
            d[j] = z[j] * inv_batch;
        }
        d[y[r]] -= inv_batch;
        loss -= logf(z[y[r]]);
    }
    return loss * inv_batch;
}

/* delta_in (batch x n_in) = (delta_out @ W^T) * (1 - a_in^2), with W not yet updated. */
static void backprop(mlp_t *m, int l, const float *a_in, float *delta_in)
{
    int n_in = m->sizes[l], n_out = m->sizes[l + 1], batch = m->batch, one = 1;
    float alpha = 1.0f, beta = 0.0f;
    if (batch == 1) {
        char trans = 'T';
        m->sgemv(&trans, &n_out, &n_in, &alpha, m->W[l], &n_out, m->delta[l + 1], &one, &beta,
                 delta_in, &one);
    } else {
        char t = 'T', no = 'N';
        m->sgemm(&t, &no, &n_in, &batch, &n_out, &alpha, m->W[l], &n_out, m->delta[l + 1],
                 &n_out, &beta, delta_in, &n_in);
    }
    long count = (long)batch * n_in;
    for (long i = 0; i < count; i++)
        delta_in[i] *= 1.0f - a_in[i] * a_in[i];
}

/* W -= lr * a_in^T @ delta_out (in place: sger, or sgemm with beta = 1); b -= lr * sum. */
static void sgd_update(mlp_t *m, int l, const float *a_in)
{
    int n_in = m->sizes[l], n_out = m->sizes[l + 1], batch = m->batch, one = 1;
    float alpha = -m->lr, beta = 1.0f;
    const float *delta = m->delta[l + 1];
    if (batch == 1) {
        m->sger(&n_out, &n_in, &alpha, (float *)delta, &one, (float *)a_in, &one, m->W[l],
                &n_out);
    } else {
        char no = 'N', t = 'T';
        m->sgemm(&no, &t, &n_out, &n_in, &batch, &alpha, (float *)delta, &n_out, (float *)a_in,
                 &n_in, &beta, m->W[l], &n_out);
    }
    for (int j = 0; j < n_out; j++) {
        float total = 0.0f;
        for (int r = 0; r < batch; r++)
            total += delta[(long)r * n_out + j];
        m->b[l][j] -= m->lr * total;
    }
}

/* One SGD step on the minibatch x (batch x sizes[0]), y (batch); returns its mean NLL. */
float mlp_step(mlp_t *m, const float *x, const int *y)
{
    int L = m->n_layers;
    const float *in = x;
    for (int l = 0; l < L; l++) {
        affine(m, l, in, m->act[l + 1]);
        if (l + 1 < L) {
            long count = (long)m->batch * m->sizes[l + 1];
            float *a = m->act[l + 1];
            for (long i = 0; i < count; i++)
                a[i] = tanhf(a[i]);
        }
        in = m->act[l + 1];
    }
    float loss = softmax_nll(m, m->act[L], y, m->delta[L]);
    for (int l = L - 1; l >= 0; l--) {
        const float *a_in = l == 0 ? x : m->act[l];
        if (l > 0)
            backprop(m, l, a_in, m->delta[l]);
        sgd_update(m, l, a_in);
    }
    return loss;
}

/* n_steps SGD steps over consecutive minibatches of the data set (n_examples rows,
 * a multiple of the batch), starting at minibatch `first`; returns the last loss. */
float mlp_train(mlp_t *m, const float *X, const int *Y, int n_examples, long first,
                long n_steps)
{
    int n_batches = n_examples / m->batch, width = m->sizes[0];
    float loss = 0.0f;
    for (long s = 0; s < n_steps; s++) {
        long k = (first + s) % n_batches;
        long row = k * m->batch;
        loss = mlp_step(m, X + row * width, Y + row);
    }
    return loss;
}
