"""Bad inputs, made for real: damaged data roots and unusable ML Metadata stores.

The makers of tests/test_bad_input_table.py's rows. A data maker takes a
copy of a valid data root and a scratch folder and damages or adds one
thing; a store maker writes one kind of bad ``metadata.sqlite`` into an
output folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3

import tensorflow as tf

from msa_data import contract


def read_records(path):
    return [bytes(r) for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]


def write_records(path, records):
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def change_first_train_example(data, change):
    path = contract.split_path(data, "train")
    records = read_records(path)
    example = tf.train.Example.FromString(records[0])
    change(example.features.feature)
    write_records(path, [example.SerializeToString(), *records[1:]])
    return path


# --- data makers ---

def _into_spans(data, spans):
    """Turns the data root into span folders (copies of its split files) numbered ``spans``."""
    files = [n for n in os.listdir(data) if ".tfrecord" in n]
    for k in spans:
        folder = contract.span_dir(data, k)
        os.makedirs(folder)
        for name in files:
            shutil.copy(os.path.join(data, name), folder)
    for name in files:
        os.remove(os.path.join(data, name))


def two_spans(data, tmp):
    _into_spans(data, (1, 2))


def spans_with_a_gap(data, tmp):
    _into_spans(data, (1, 3))


def span_missing_test_split(data, tmp):
    _into_spans(data, (1, 2))
    os.remove(contract.split_path(contract.span_dir(data, 2), "test"))


def split_files_and_spans(data, tmp):
    os.makedirs(contract.span_dir(data, 1))
    for name in os.listdir(data):
        if ".tfrecord" in name:
            shutil.copy(os.path.join(data, name), contract.span_dir(data, 1))


def nothing(data, tmp):
    return None


def remove_data_root(data, tmp):
    shutil.rmtree(data)


def remove_test_split(data, tmp):
    os.remove(contract.split_path(data, "test"))


def empty_valid_split(data, tmp):
    write_records(contract.split_path(data, "valid"), [])


def truncate_train(data, tmp):
    path = contract.split_path(data, "train")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 7)


def stray_tmp_file(data, tmp):
    with open(os.path.join(data, "train.tfrecord.tmp"), "w") as f:
        f.write("half a copy\n")


def drop_label_feature(data, tmp):
    change_first_train_example(data, lambda f: f.pop(contract.LABEL))


def label_set_to(value):
    def change(data, tmp):
        def set_label(f):
            f[contract.LABEL].float_list.value[0] = value
        change_first_train_example(data, set_label)
    return change


def drop_one_audio_value(data, tmp):
    def change(f):
        del f["audio"].float_list.value[-1]
    change_first_train_example(data, change)


def fifo_test_split(data, tmp):
    os.remove(contract.split_path(data, "test"))
    os.mkfifo(contract.split_path(data, "test"))


def folder_matching_valid(data, tmp):
    os.mkdir(os.path.join(data, "valid.tfrecord-outputs"))


def socket_matching_train(data, tmp):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(data, "train.tfrecord.sock"))
    sock.close()


def test_split_copies_train(data, tmp):
    shutil.copy(contract.split_path(data, "train"), contract.split_path(data, "test"))


def valid_renamed_copy_of_train(data, tmp):
    records = []
    for i, record in enumerate(read_records(contract.split_path(data, "train"))):
        example = tf.train.Example.FromString(record)
        example.features.feature[contract.SEGMENT_ID].bytes_list.value[0] = b"copy_%d" % i
        example.features.feature[contract.VIDEO_ID].bytes_list.value[0] = b"copyvid_%d" % i
        records.append(example.SerializeToString())
    write_records(contract.split_path(data, "valid"), records)


def valid_shares_a_train_speaker(data, tmp):
    train = tf.train.Example.FromString(read_records(contract.split_path(data, "train"))[0])
    speaker = train.features.feature[contract.VIDEO_ID].bytes_list.value[0]
    path = contract.split_path(data, "valid")
    records = read_records(path)
    example = tf.train.Example.FromString(records[0])
    example.features.feature[contract.VIDEO_ID].bytes_list.value[0] = speaker
    write_records(path, [example.SerializeToString(), *records[1:]])


# --- store makers ---

def mlmd_store(path, pipeline=None):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = \
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(config)
    if pipeline:
        for type_name, name in (("pipeline", pipeline), ("pipeline_run", "run-1")):
            type_id = store.put_context_type(metadata_store_pb2.ContextType(name=type_name))
            store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name=name)])


def zero_bytes(out):
    open(os.path.join(out, "metadata.sqlite"), "wb").close()


def not_sqlite(out):
    with open(os.path.join(out, "metadata.sqlite"), "w") as f:
        f.write("not a database\n")


def plain_sqlite(out):
    with sqlite3.connect(os.path.join(out, "metadata.sqlite")) as db:
        db.execute("CREATE TABLE notes (text)")


def empty_mlmd(out):
    mlmd_store(os.path.join(out, "metadata.sqlite"))


def other_pipeline(out):
    mlmd_store(os.path.join(out, "metadata.sqlite"), pipeline="someone-elses-pipeline")
