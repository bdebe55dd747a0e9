// Cosmos DB for NoSQL, serverless, Entra ID only: keys cannot be used for data or for metadata writes, so the
// database and containers exist only because this template creates them.
param accountName string
param location string
param tags object = {}
param databaseName string

// Containers of the database: the ids and partition keys the code uses (CONTAINERS in
// src/config/composition-root.ts) and the aggregates the rollup writes.
var containers = [
  { name: 'ledger', partitionKey: '/pk' }
  { name: 'deadletters', partitionKey: '/pk' }
  { name: 'diagnostics', partitionKey: '/pk' }
  { name: 'aggregates', partitionKey: '/pk' }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for container in containers: {
    parent: database
    name: container.name
    properties: {
      resource: {
        id: container.name
        partitionKey: {
          paths: [container.partitionKey]
          kind: 'Hash'
          version: 2
        }
      }
    }
  }
]

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
