"""Trains a bag-of-ids classifier: nce_loss, sampled_softmax_loss or a full softmax.

The model is the classic word2vec-style one the loss functions were written for: the
context ids of an example are embedded and mean-pooled into one vector, and the
output layer is a [num_classes, embedding_dim] weight table plus biases that the
sampled loss reads a few rows of per step. Every knob the validator checked
(num_classes, num_true, num_sampled, sampler, unique, remove_accidental_hits) is
passed to TensorFlow unchanged, so a config that passed the gate trains as checked.
With `loss: softmax` every row is trained by every example through
sparse_softmax_cross_entropy_with_logits, labels equal to ignore_index weighing
nothing (Keras' ignore_class).
Training writes model/ (a SavedModel whose `scores` gives full-softmax logits),
checkpoints/, logs/ (TensorBoard) and metrics.json into the output folder.
"""

import json
import logging
import os
import time
from collections.abc import Callable

# Set before TensorFlow loads: its C++ start-up chatter would bury the epoch lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

from classgate import config
from classgate.io import storage
from classgate.training import data

RECALL_AT = 10
CHECKPOINTS_KEPT = 3
# A line per epoch and one for the eval, logged: the command line shows them on
# stdout, a library's caller wherever its logging goes.
_LOG = logging.getLogger(__name__)

_SAMPLERS = {
    "log_uniform": tf.random.log_uniform_candidate_sampler,
    "uniform": tf.random.uniform_candidate_sampler,
    "unigram": tf.random.learned_unigram_candidate_sampler,
}
_LOSSES = {"nce": tf.nn.nce_loss, "sampled_softmax": tf.nn.sampled_softmax_loss}


class Scorer(tf.Module):
    """Embedding table, mean pooling and the output layer the sampled loss trains."""

    def __init__(self, model: config.ModelConfig):
        super().__init__(name="scorer")
        dim = model.embedding_dim
        # The initialisation of TensorFlow's word2vec example, which nce_loss targets.
        self.embeddings = tf.Variable(
            tf.random.uniform([model.context_vocab_size, dim], -1.0, 1.0)
        )
        self.output_weights = tf.Variable(
            tf.random.truncated_normal([model.num_classes, dim], stddev=dim**-0.5)
        )
        self.output_biases = tf.Variable(tf.zeros([model.num_classes]))

    def pooled(self, ids: tf.Tensor) -> tf.Tensor:
        """Mean of the embeddings of the valid ids in each row of a padded batch."""
        vocab = tf.shape(self.embeddings, out_type=tf.int64)[0]
        valid = (ids >= 0) & (ids < vocab)
        rows = tf.nn.embedding_lookup(self.embeddings, tf.where(valid, ids, 0))
        weights = tf.cast(valid, tf.float32)[..., tf.newaxis]
        # A row without a valid id pools to zeros instead of dividing by zero.
        count = tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)
        return tf.reduce_sum(rows * weights, axis=1) / count

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64)])
    def scores(self, ids: tf.Tensor) -> tf.Tensor:
        """Full-softmax logits [batch, num_classes] for context ids padded with -1."""
        logits = tf.matmul(self.pooled(ids), self.output_weights, transpose_b=True)
        return logits + self.output_biases


def train(
    model: config.ModelConfig,
    train_files: list[str],
    eval_files: list[str] | None,
    data_format: str,
    output_dir: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    log: Callable[[str], None] = _LOG.info,
) -> dict:
    """Trains `model` on the files, writes the outputs; returns metrics.json's content.

    Args:
        model: the validated config; needs context_feature and context_vocab_size.
        train_files: TFRecord (tf.Example, gzip or not) or Parquet files.
        eval_files: files of a split scored with the full softmax, or None.
        data_format: "tfrecord" or "parquet".
        output_dir: receives model/, checkpoints/, logs/ and metrics.json.
        epochs: passes over train_files.
        batch_size: examples per step.
        learning_rate: Adam's learning rate.
        log: called with one line of progress per epoch, and one for the eval;
            by default, logger classgate.training.trainer's INFO.

    Raises:
        ValueError: the config has no context feature, or the files cannot be used.
        KeyboardInterrupt: after saving a checkpoint, model/ and metrics.json
            (interrupted: true), so the caller can exit with 130.
    """
    if model.context_feature is None:
        raise ValueError(
            f"model '{model.name}': training needs context_feature and "
            "context_vocab_size in the model config (the int ids the model reads)"
        )
    train_data = data.dataset(model, train_files, data_format, batch_size, shuffle=True)
    eval_data = None
    if eval_files:
        eval_data = data.dataset(model, eval_files, data_format, batch_size)
    tf.io.gfile.makedirs(output_dir)
    scorer = Scorer(model)
    # Adam rather than Adagrad: it reaches a usable model in a few epochs at the
    # config's default rate of 0.01, where Adagrad wants rates ten times larger.
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    step = _train_step(model, scorer, optimizer)
    checkpoint = tf.train.Checkpoint(model=scorer, optimizer=optimizer)
    checkpoints = tf.train.CheckpointManager(
        checkpoint, os.path.join(output_dir, "checkpoints"), CHECKPOINTS_KEPT
    )
    writer = tf.summary.create_file_writer(os.path.join(output_dir, "logs"))
    metrics = {
        "num_classes": model.num_classes,
        "num_sampled": model.num_sampled,
        "loss": model.loss,
        "history": [],
    }
    try:
        for epoch in range(1, epochs + 1):
            loss, rate = _run_epoch(step, train_data)
            metrics["history"].append({"epoch": epoch, "loss": loss})
            checkpoints.save()
            with writer.as_default():
                tf.summary.scalar("loss", loss, step=epoch)
            log(f"epoch {epoch}/{epochs}: loss {loss:.4f} ({rate:.0f} examples/s)")
    except KeyboardInterrupt:
        # Keep what was learned: the caller exits 130 once everything is on disk.
        # Evaluation is skipped, since whoever pressed Ctrl-C wants out now.
        checkpoints.save()
        _finish(scorer, metrics, output_dir, None, log, interrupted=True)
        raise
    finally:
        writer.close()
    return _finish(scorer, metrics, output_dir, eval_data, log, interrupted=False)


def _train_step(model: config.ModelConfig, scorer: Scorer, optimizer):
    if model.loss == "softmax":
        return _softmax_step(model, scorer, optimizer)
    sampler, loss_fn = _SAMPLERS[model.sampler], _LOSSES[model.loss]
    variables = scorer.trainable_variables
    optimizer.build(variables)  # creates Adam's slots outside the tf.function

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int64),
            tf.TensorSpec([None, model.num_true], tf.int64),
        ]
    )
    def step(ids, labels):
        with tf.GradientTape() as tape:
            sampled = sampler(
                true_classes=labels,
                num_true=model.num_true,
                num_sampled=model.num_sampled,
                unique=model.unique,
                range_max=model.num_classes,
            )
            losses = loss_fn(
                weights=scorer.output_weights,
                biases=scorer.output_biases,
                labels=labels,
                inputs=scorer.pooled(ids),
                num_sampled=model.num_sampled,
                num_classes=model.num_classes,
                num_true=model.num_true,
                sampled_values=sampled,
                remove_accidental_hits=model.remove_accidental_hits,
            )
            loss = tf.reduce_mean(losses)
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    return step


def _softmax_step(model: config.ModelConfig, scorer: Scorer, optimizer):
    """A full softmax: every row's logit, labels of ignore_index weighing nothing."""
    variables = scorer.trainable_variables
    optimizer.build(variables)
    ignore = model.ignore_index

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int64),
            tf.TensorSpec([None, 1], tf.int64),
        ]
    )
    def step(ids, labels):
        labels = labels[:, 0]
        kept = tf.ones_like(labels, tf.bool) if ignore is None else labels != ignore
        with tf.GradientTape() as tape:
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.where(kept, labels, 0), logits=scorer.scores(ids)
            )
            weights = tf.cast(kept, tf.float32)
            loss = tf.reduce_sum(losses * weights) / tf.maximum(
                tf.reduce_sum(weights), 1.0
            )
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    return step


def _run_epoch(step, data) -> tuple[float, float]:
    """One pass; returns the example-weighted mean loss and examples per second."""
    start, total, examples = time.monotonic(), 0.0, 0
    for ids, labels in data:
        size = int(labels.shape[0])
        total += float(step(ids, labels)) * size
        examples += size
    if not examples:
        raise ValueError("the training files hold no examples")
    return total / examples, examples / max(time.monotonic() - start, 1e-9)


def _finish(scorer, metrics, output_dir, eval_data, log, *, interrupted) -> dict:
    """Saves model/, evaluates when there is an eval split, writes metrics.json."""
    tf.saved_model.save(
        scorer,
        os.path.join(output_dir, "model"),
        signatures={"serving_default": scorer.scores},
    )
    if eval_data is not None:
        result = metrics["eval"] = _evaluate(scorer, eval_data)
        log(
            f"eval: top1 {result['top1_accuracy']:.4f}, recall@10 "
            f"{result['recall_at_10']:.4f} over {result['examples']} examples"
        )
    metrics["interrupted"] = interrupted
    storage.write_atomic(
        os.path.join(output_dir, "metrics.json"), json.dumps(metrics, indent=2) + "\n"
    )
    return metrics


def _evaluate(scorer: Scorer, data) -> dict:
    """Full-softmax top-1 accuracy and recall@10 (share of true labels in top 10)."""
    k = min(RECALL_AT, scorer.output_biases.shape[0])
    top1 = recall = 0.0
    examples = 0
    for ids, labels in data:
        ranked = tf.math.top_k(scorer.scores(ids), k=k).indices.numpy()
        hits = labels.numpy()[:, :, None] == ranked[:, None, :]  # [batch, true, k]
        top1 += hits[:, :, 0].any(axis=1).sum()
        recall += hits.any(axis=2).mean(axis=1).sum()
        examples += len(hits)
    return {
        "top1_accuracy": float(top1 / max(examples, 1)),
        "recall_at_10": float(recall / max(examples, 1)),
        "examples": examples,
    }
