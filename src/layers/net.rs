//! The book's two-layer network and its minibatch trainer, for any [`Model`] and
//! [`Optimizer`].

use super::Rng;
use super::{Affine, Init, Layer, Optimizer, Params, Sequential, SoftmaxWithLoss};
use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::kernels::select::gather_rows;
use crate::kernels::two_layer::run_step;
use crate::mat::{MatMut, MatRef};
use crate::ops::activation::Activation;
use crate::ops::loss::{Targets, check_targets};
use crate::ops::two_layer::{self, MAX_WIDTH};
use crate::ops::{check_shape, reserve, scratch_len};
use crate::simd::Isa;

/// A classifier a [`Trainer`] can train: a parameter set with a training step (forward, loss
/// against class labels, backward, optimizer step) and an inference-mode prediction.
/// Implemented by [`TwoLayerNet`] and [`Sequential`].
pub trait Model<T: Float>: Params<T> {
    /// Checks, before any step, that the model takes inputs of width `in_width` and that
    /// every label of `t` is one of its classes.
    ///
    /// # Errors
    ///
    /// `op`'s [`ErrorKind::Shape`] naming `x` or [`ErrorKind::Label`] naming `targets`.
    fn check_batch(&self, op: &'static str, in_width: usize, t: &[usize]) -> Result<()>;

    /// One training step on a batch; returns its mean loss.
    ///
    /// # Errors
    ///
    /// The model's and the optimizer's errors.
    fn train_step(&mut self, x: MatRef<'_, T>, t: &[usize], opt: &mut dyn Optimizer<T>) -> Result<T>;

    /// The class scores (N×C) of a batch, in inference mode.
    ///
    /// # Errors
    ///
    /// A shape error for input the model does not take.
    fn predict(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>>;
}

impl<T: Float> Model<T> for Sequential<T> {
    fn check_batch(&self, op: &'static str, in_width: usize, t: &[usize]) -> Result<()> {
        self.check_labels(op, in_width, t)
    }
    fn train_step(&mut self, x: MatRef<'_, T>, t: &[usize], opt: &mut dyn Optimizer<T>) -> Result<T> {
        Sequential::train_step(self, x, t, opt)
    }
    fn predict(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        Sequential::predict(self, x)
    }
}

/// The book's TwoLayerNet: Affine(D→H) + Sigmoid (fused), Affine(H→C), Softmax-with-Loss;
/// [`TwoLayerNet::with`] takes another hidden activation and initialisation.
///
/// # Example
///
/// ```
/// use nnkern::MatRef;
/// use nnkern::layers::Rng;
/// use nnkern::layers::{Sgd, TwoLayerNet};
///
/// let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut Rng::new(0));
/// let x = [0.1_f32, 0.2, -0.3, 0.4];
/// let loss = net.forward(MatRef::from_row_major(&x, 2, 2)?, &[0, 2])?;
/// // untrained (weights 0.01·N(0, 1)): scores differ by ~0.01, so the loss is near ln 3
/// assert!((loss - 3f32.ln()).abs() < 0.05);
/// net.backward()?;
/// net.step(&mut Sgd::new(1.0))?;
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Debug)]
pub struct TwoLayerNet<T> {
    /// Affine D→H with the sigmoid fused.
    pub hidden: Affine<T>,
    /// Affine H→C (scores).
    pub out: Affine<T>,
    /// The loss layer.
    pub loss: SoftmaxWithLoss<T>,
}

impl<T: Float> TwoLayerNet<T> {
    /// The book's net: a sigmoid hidden layer, weights 0.01·N(0, 1), biases 0.
    ///
    /// # Panics
    ///
    /// If input·hidden or hidden·classes overflows or cannot be allocated
    /// ([`TwoLayerNet::with`] answers those with an `Err`).
    pub fn new(input: usize, hidden: usize, classes: usize, rng: &mut Rng) -> Self {
        Self::with(input, hidden, classes, Activation::Sigmoid, Init::default(), rng)
            .expect("the book's net: sizes that fit in memory")
    }

    /// A net with hidden activation `act`, both layers initialised by `init` (the hidden
    /// layer first, from the same `rng`); the output layer has no activation.
    ///
    /// # Errors
    ///
    /// As [`Affine::init`].
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::layers::{Init, TwoLayerNet};
    /// use nnkern::{Activation, layers::Rng};
    ///
    /// let net = TwoLayerNet::<f32>::with(64, 128, 10, Activation::Relu, Init::HeNormal, &mut Rng::new(0))?;
    /// assert_eq!(net.out.params()[0].len(), 128 * 10);
    /// # use nnkern::layers::Layer;
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn with(
        input: usize,
        hidden: usize,
        classes: usize,
        act: Activation,
        init: Init,
        rng: &mut Rng,
    ) -> Result<Self> {
        Ok(TwoLayerNet {
            hidden: Affine::init(input, hidden, act, init, rng)?,
            out: Affine::init(hidden, classes, Activation::Identity, init, rng)?,
            loss: SoftmaxWithLoss::new(),
        })
    }

    /// The class scores (N×C) of a batch, in inference mode ([`Layer::infer`]: the caches of
    /// the last `forward` are left as they were).
    ///
    /// # Errors
    ///
    /// A shape error if x is not N×D.
    pub fn predict(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        let h = self.hidden.infer(x)?;
        self.out.infer(h)
    }

    /// The mean loss of a batch with labels `t`; keeps what backward needs.
    ///
    /// # Errors
    ///
    /// A shape or label error.
    pub fn forward(&mut self, x: MatRef<'_, T>, t: &[usize]) -> Result<T> {
        let h = self.hidden.forward(x)?;
        let s = self.out.forward(h)?;
        self.loss.forward(s, t)
    }

    /// Gradients of every parameter for the last `forward`.
    ///
    /// # Errors
    ///
    /// None unless `forward` failed before.
    pub fn backward(&mut self) -> Result<()> {
        let ds = self.loss.backward(T::ONE)?;
        let dh = self.out.backward(ds)?;
        // the input layer's dx would be the gradient of the data: skipped
        self.hidden.backward_params(dh)
    }

    /// One optimizer step over all parameters (the hidden layer's W, b, then the output
    /// layer's).
    ///
    /// # Errors
    ///
    /// The optimizer's, before anything is updated.
    pub fn step(&mut self, opt: &mut dyn Optimizer<T>) -> Result<()> {
        opt.step(self)
    }

    /// One whole training step on a batch: `forward(x, t)`, `backward()` and `step(opt)` in
    /// one call; returns the batch's mean loss L = (1/N)·Σ_n (logsumexp(s_n) − s_n,t_n).
    ///
    /// When the input width, hidden width and class count are all at most 16 and the output
    /// layer has no activation (the book's net: 2, 10, 3), the step is one fused kernel: the
    /// batch goes through 16 rows at a time with a vector lane per row, the hidden layer,
    /// scores, loss and every gradient computed in registers, each parameter gradient's
    /// terms summed across the lanes and the groups in a fixed order (on the calling thread:
    /// the same result on any thread count). It computes what the layer-by-layer path computes, with the sums in another
    /// order (so the two agree to rounding, not bit for bit); `grads()` of both layers then
    /// hold the step's gradients. It does not fill the layers' forward caches (their
    /// `backward` refers to their last `forward`). Other shapes go layer by layer.
    ///
    /// # Errors
    ///
    /// A shape error naming `x` if x is not N×D with N ≥ 1; a length or label error naming
    /// `targets` if `t` has other than N labels or one outside 0..C; the optimizer's errors
    /// (its hyper-parameters are checked before anything is computed).
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::MatRef;
    /// use nnkern::layers::Rng;
    /// use nnkern::layers::{Sgd, TwoLayerNet};
    ///
    /// let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut Rng::new(0));
    /// let x = MatRef::from_row_major(&[0.1_f32, 0.2, -0.3, 0.4], 2, 2)?;
    /// let mut sgd = Sgd::new(1.0);
    /// let first = net.train_step(x, &[0, 2], &mut sgd)?;
    /// for _ in 0..200 {
    ///     net.train_step(x, &[0, 2], &mut sgd)?;
    /// }
    /// assert!(net.train_step(x, &[0, 2], &mut sgd)? < first);
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn train_step(&mut self, x: MatRef<'_, T>, t: &[usize], opt: &mut dyn Optimizer<T>) -> Result<T> {
        const OP: &str = "TwoLayerNet::train_step";
        let (d, h, c) = (self.hidden.d, self.hidden.h, self.out.h);
        let n = x.rows();
        let fused = d <= MAX_WIDTH
            && h <= MAX_WIDTH
            && c <= MAX_WIDTH
            && self.out.d == h
            && self.out.act == Activation::Identity
            && x.unit_col_stride();
        opt.check()?;
        if !fused || n == 0 {
            let loss = self.forward(x, t)?;
            self.backward()?;
            self.step(opt)?;
            return Ok(loss);
        }
        check_shape(OP, "x", (n, x.cols()), (n, d), "N × the input width")?;
        check_targets(OP, &Targets::<T>::Classes(t), n, c, None)?;
        let (hid, out) = (&mut self.hidden, &mut self.out);
        let loss = run_step(
            Isa::current(),
            two_layer::Step {
                x,
                t,
                act: hid.act,
                dims: (d, h, c),
                params: two_layer::Params {
                    w1: &hid.w,
                    b1: &hid.b,
                    w2: &out.w,
                    b2: &out.b,
                },
                grads: two_layer::Grads {
                    w1: &mut hid.dw,
                    b1: &mut hid.db,
                    w2: &mut out.dw,
                    b2: &mut out.db,
                },
            },
        );
        self.step(opt)?;
        Ok(loss)
    }
}

impl<T: Float> Params<T> for TwoLayerNet<T> {
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &[T])) {
        self.hidden.visit_params(f);
        self.out.visit_params(f);
    }
}

impl<T: Float> Model<T> for TwoLayerNet<T> {
    fn check_batch(&self, op: &'static str, in_width: usize, t: &[usize]) -> Result<()> {
        check_shape(
            op,
            "x",
            (t.len(), in_width),
            (t.len(), self.hidden.d),
            "t.len × the input width",
        )?;
        check_targets(op, &Targets::<T>::Classes(t), t.len(), self.out.h, None)
    }
    fn train_step(&mut self, x: MatRef<'_, T>, t: &[usize], opt: &mut dyn Optimizer<T>) -> Result<T> {
        TwoLayerNet::train_step(self, x, t, opt)
    }
    fn predict(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        TwoLayerNet::predict(self, x)
    }
}

/// Minibatch training over a data set, as in the book's `Trainer`: each epoch shuffles the
/// rows, then runs a [`Model::train_step`] with the optimizer on every batch. Its buffers are
/// reused, so epochs after the first allocate nothing.
///
/// # Example
///
/// ```
/// use nnkern::MatRef;
/// use nnkern::layers::{Rng, Sgd, Trainer, TwoLayerNet};
///
/// // three noisy clusters of 100 points
/// let mut rng = Rng::new(2);
/// let t: Vec<usize> = (0..300).map(|i| i % 3).collect();
/// let x: Vec<f32> = t.iter()
///     .flat_map(|&c| [(c as f64 * 2.1).cos(), (c as f64 * 2.1).sin()])
///     .map(|v| (v + 0.3 * rng.normal()) as f32)
///     .collect();
/// let x = MatRef::from_row_major(&x, 300, 2)?;
/// let mut net = TwoLayerNet::new(2, 10, 3, &mut rng);
/// let mut trainer = Trainer::new(30, Sgd::new(1.0), rng)?;
/// let first = trainer.epoch(&mut net, x, &t)?;
/// let last = trainer.fit(&mut net, x, &t, 20, |_net, _opt, _epoch, _loss| Ok(()))?;
/// assert!(last < first);
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Debug)]
pub struct Trainer<T, O = super::Sgd<T>> {
    batch: usize,
    opt: O,
    rng: Rng,
    order: Vec<usize>,
    xb: Vec<T>,
    tb: Vec<usize>,
}

impl<T: Float, O: Optimizer<T>> Trainer<T, O> {
    /// A trainer with minibatches of `batch` rows, updating with `opt`, shuffling with `rng`.
    /// A batch larger than the data set is the whole set.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming `batch` if it is 0, or the optimizer's hyper-parameter
    /// out of its domain ([`Optimizer::check`]).
    pub fn new(batch: usize, opt: O, rng: Rng) -> Result<Self> {
        opt.check()?;
        let mut t = Trainer {
            batch: 1,
            opt,
            rng,
            order: Vec::new(),
            xb: Vec::new(),
            tb: Vec::new(),
        };
        t.set_batch(batch)?;
        Ok(t)
    }

    /// Rows per minibatch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Sets the rows per minibatch for the following epochs.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming `batch` if it is 0 (the setting is unchanged).
    pub fn set_batch(&mut self, batch: usize) -> Result<()> {
        if batch == 0 {
            return Err(Error::new(
                "Trainer::set_batch",
                "batch",
                ErrorKind::Value,
                "is 0 but a minibatch needs at least 1 row",
            ));
        }
        self.batch = batch;
        Ok(())
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &O {
        &self.opt
    }

    /// The optimizer, to change its learning rate ([`Optimizer::set_lr`], checked) or reset
    /// it.
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.opt
    }

    /// One epoch over the N×D rows of `x` (any view) with labels `t`; returns the mean of the
    /// batch losses.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`] naming `t` if it does not have one label per row of x;
    /// [`ErrorKind::Shape`] naming `x` if the model does not take its width;
    /// [`ErrorKind::Label`] naming `targets` if a label is not one of the model's classes;
    /// [`ErrorKind::Value`] for the optimizer's hyper-parameters; [`ErrorKind::Alloc`] if the
    /// batch buffers cannot be allocated — all before any step, so the model is unchanged.
    /// Other errors come from the kernels.
    pub fn epoch<M: Model<T> + ?Sized>(&mut self, net: &mut M, x: MatRef<'_, T>, t: &[usize]) -> Result<T> {
        const OP: &str = "Trainer::epoch";
        let (n, d) = (x.rows(), x.cols());
        crate::ops::check_len(OP, "t", t.len(), n, "x.rows")?;
        // every label before the first step: a bad one in the last batch must not leave the
        // net trained on the batches before it
        net.check_batch(OP, d, t)?;
        self.opt.check()?;
        // (a batch beyond the data set is the whole set: its buffers are sized from both)
        let batch = self.batch.min(n);
        let xlen = scratch_len(OP, batch, d, 0)?;
        if self.order.len() != n {
            self.order.clear();
            reserve(OP, "scratch", &mut self.order, n)?;
            self.order.extend(0..n);
        }
        reserve(OP, "scratch", &mut self.xb, xlen)?;
        reserve(OP, "scratch", &mut self.tb, batch)?;
        self.xb.resize(self.xb.len().max(xlen), T::ZERO);
        self.tb.resize(self.tb.len().max(batch), 0);
        self.rng.shuffle(&mut self.order);
        let mut total = 0.0;
        let steps = n.div_ceil(batch.max(1));
        for idx in self.order.chunks(batch.max(1)) {
            let b = idx.len();
            gather_rows(x, idx, MatMut::from_row_major(&mut self.xb[..b * d], b, d)?)?;
            for (o, &i) in self.tb.iter_mut().zip(idx) {
                *o = t[i];
            }
            let xb = MatRef::from_row_major(&self.xb[..b * d], b, d)?;
            total += net.train_step(xb, &self.tb[..b], &mut self.opt)?.to_f64();
        }
        Ok(T::from_f64(total / steps.max(1) as f64))
    }

    /// `epochs` epochs ([`Trainer::epoch`]), calling `on_epoch(net, optimizer, epoch, mean
    /// loss)` after each: the evaluation hook (test accuracy, a learning-rate schedule through
    /// [`Optimizer::set_lr`], an early stop by returning an `Err`). Returns the last epoch's
    /// mean loss (NaN for 0 epochs).
    ///
    /// # Errors
    ///
    /// The first error of an epoch or of `on_epoch`, which ends the run.
    pub fn fit<M: Model<T> + ?Sized>(
        &mut self,
        net: &mut M,
        x: MatRef<'_, T>,
        t: &[usize],
        epochs: usize,
        mut on_epoch: impl FnMut(&mut M, &mut O, usize, T) -> Result<()>,
    ) -> Result<T> {
        let mut last = T::from_f64(f64::NAN);
        for e in 0..epochs {
            last = self.epoch(net, x, t)?;
            on_epoch(net, &mut self.opt, e, last)?;
        }
        Ok(last)
    }
}
