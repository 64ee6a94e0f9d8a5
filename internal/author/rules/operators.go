package rules

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Typed values for the operator-managed custom resources kubewright writes.
// Only the fields we set are declared; the server-side dry-run checks them
// against the operators' real CRDs.

type secretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type localRef struct {
	Name string `json:"name"`
}

// CloudNativePG Cluster (postgresql.cnpg.io/v1).
type cnpgCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              cnpgClusterSpec `json:"spec"`
}

type cnpgClusterSpec struct {
	Instances int `json:"instances"`
	// ImageName pins the PostgreSQL major version.
	ImageName string `json:"imageName"`
	Storage   struct {
		Size string `json:"size"`
	} `json:"storage"`
	Bootstrap struct {
		InitDB struct {
			Database string   `json:"database"`
			Owner    string   `json:"owner"`
			Secret   localRef `json:"secret"`
		} `json:"initdb"`
	} `json:"bootstrap"`
	Resources corev1.ResourceRequirements `json:"resources"`
}

// MariaDB operator kinds (k8s.mariadb.com/v1alpha1).
type mariaDBRef struct {
	Name string `json:"name"`
}

type mariaDB struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		RootPasswordSecretKeyRef secretKeyRef `json:"rootPasswordSecretKeyRef"`
		Image                    string       `json:"image"`
		Port                     int          `json:"port"`
		Replicas                 int          `json:"replicas"`
		Storage                  struct {
			Size string `json:"size"`
		} `json:"storage"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"spec"`
}

type mariaDBDatabase struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		MariaDBRef   mariaDBRef `json:"mariaDbRef"`
		Name         string     `json:"name"`
		CharacterSet string     `json:"characterSet"`
		Collate      string     `json:"collate"`
	} `json:"spec"`
}

type mariaDBUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		MariaDBRef           mariaDBRef   `json:"mariaDbRef"`
		Name                 string       `json:"name"`
		PasswordSecretKeyRef secretKeyRef `json:"passwordSecretKeyRef"`
		Host                 string       `json:"host"`
	} `json:"spec"`
}

type mariaDBGrant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		MariaDBRef mariaDBRef `json:"mariaDbRef"`
		Privileges []string   `json:"privileges"`
		Database   string     `json:"database"`
		Table      string     `json:"table"`
		Username   string     `json:"username"`
		Host       string     `json:"host"`
	} `json:"spec"`
}

// MongoDBCommunity (mongodbcommunity.mongodb.com/v1).
type mongoDBCommunity struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Members  int    `json:"members"`
		Type     string `json:"type"`
		Version  string `json:"version"`
		Security struct {
			Authentication struct {
				Modes []string `json:"modes"`
			} `json:"authentication"`
		} `json:"security"`
		Users []mongoUser `json:"users"`
	} `json:"spec"`
}

type mongoUser struct {
	Name                       string       `json:"name"`
	DB                         string       `json:"db"`
	PasswordSecretRef          secretKeyRef `json:"passwordSecretRef"`
	Roles                      []mongoRole  `json:"roles"`
	ScramCredentialsSecretName string       `json:"scramCredentialsSecretName"`
}

type mongoRole struct {
	Name string `json:"name"`
	DB   string `json:"db"`
}

// RabbitmqCluster (rabbitmq.com/v1beta1).
type rabbitmqCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Replicas  int                         `json:"replicas"`
		Resources corev1.ResourceRequirements `json:"resources"`
		// Persistence sizes the data volume.
		Persistence struct {
			Storage string `json:"storage"`
		} `json:"persistence"`
	} `json:"spec"`
}

// External Secrets (external-secrets.io/v1).
type externalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		RefreshInterval string `json:"refreshInterval"`
		SecretStoreRef  struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"secretStoreRef"`
		Target struct {
			Name           string `json:"name"`
			CreationPolicy string `json:"creationPolicy"`
			Template       *struct {
				Type string `json:"type"`
			} `json:"template,omitempty"`
		} `json:"target"`
		Data []externalSecretData `json:"data"`
	} `json:"spec"`
}

type externalSecretData struct {
	SecretKey string `json:"secretKey"`
	RemoteRef struct {
		Key      string `json:"key"`
		Property string `json:"property,omitempty"`
	} `json:"remoteRef"`
}

type clusterSecretStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Provider struct {
			Kubernetes struct {
				RemoteNamespace string `json:"remoteNamespace"`
				Server          struct {
					CAProvider struct {
						Type      string `json:"type"`
						Name      string `json:"name"`
						Key       string `json:"key"`
						Namespace string `json:"namespace"`
					} `json:"caProvider"`
				} `json:"server"`
				Auth struct {
					ServiceAccount struct {
						Name      string `json:"name"`
						Namespace string `json:"namespace"`
					} `json:"serviceAccount"`
				} `json:"auth"`
			} `json:"kubernetes"`
		} `json:"provider"`
	} `json:"spec"`
}

// Istio networking (networking.istio.io/v1).
type istioGateway struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector map[string]string `json:"selector"`
		Servers  []istioServer     `json:"servers"`
	} `json:"spec"`
}

type istioServer struct {
	Port struct {
		Number   int    `json:"number"`
		Name     string `json:"name"`
		Protocol string `json:"protocol"`
	} `json:"port"`
	Hosts []string `json:"hosts"`
}

type virtualService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Hosts    []string    `json:"hosts"`
		Gateways []string    `json:"gateways"`
		HTTP     []httpRoute `json:"http"`
	} `json:"spec"`
}

type routeDestination struct {
	Host string `json:"host"`
	Port struct {
		Number int `json:"number"`
	} `json:"port"`
}

type routeTarget struct {
	Destination routeDestination `json:"destination"`
}

type httpRoute struct {
	Route   []routeTarget `json:"route"`
	Timeout string        `json:"timeout,omitempty"`
	Retries *struct {
		Attempts      int    `json:"attempts"`
		PerTryTimeout string `json:"perTryTimeout"`
		RetryOn       string `json:"retryOn"`
	} `json:"retries,omitempty"`
}
