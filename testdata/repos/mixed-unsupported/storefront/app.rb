require "sinatra/base"

class Storefront < Sinatra::Base
  get "/healthz" do
    "ok"
  end
end
