const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { HealthImplementation } = require('grpc-health-check');

const port = process.env.PORT || 50051;
const definition = protoLoader.loadSync('shop.proto');
const shop = grpc.loadPackageDefinition(definition).shop;

function charge(call, callback) {
  callback(null, { transaction_id: 'tx-' + Date.now() });
}

const server = new grpc.Server();
server.addService(shop.Payment.service, { charge });
const health = new HealthImplementation({ '': 'SERVING' });
health.addToServer(server);

server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) throw err;
  console.log(`payment listening on ${bound}`);
});
