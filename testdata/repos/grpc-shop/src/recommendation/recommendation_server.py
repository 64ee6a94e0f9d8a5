import os
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2_grpc


def must_map_env(key):
    value = os.environ.get(key)
    if value is None:
        raise SystemExit(f"{key} is not set")
    return value


def serve():
    port = must_map_env("RECOMMENDATION_PORT")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    server.add_insecure_port(f"[::]:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    serve()
